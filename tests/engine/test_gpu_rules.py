"""Rules the GPU path depends on, checked without a GPU: byte order at the
boundary, the alignment test, chunk caps for cuFFT, and which GPU a CuPy
input is computed on."""

import numpy as np
import pytest

import gpudeconv
from gpudeconv.engine import chunks as _chunks
from gpudeconv.engine import frames as _frames
from gpudeconv.engine.arrays import misaligned
from gpudeconv.engine.backend import Backend
from gpudeconv.engine.dispatch import cupy_usable, resolve_backend

KERNEL = gpudeconv.psf.motion(7, 30)


@pytest.mark.parametrize("dtype", ["f8", "f4", "u2", "i2"])
def test_big_endian_input_is_computed_like_native(dtype):
    native = (np.random.default_rng(0).random((2, 30, 26)) * 1000).astype("<" + dtype)
    swapped = native.astype(">" + dtype)
    expected = gpudeconv.wiener(native, KERNEL, backend="numpy")
    got = gpudeconv.wiener(swapped, KERNEL, backend="numpy")
    assert got.dtype == expected.dtype and got.dtype.isnative
    np.testing.assert_array_equal(got, expected)


def test_big_endian_float64_computes_in_float64():
    assert _frames.dtypes(np.dtype(">f8"), None) == (np.dtype(np.float64),) * 2
    assert _frames.dtypes(np.dtype(">u2"), None) == (np.dtype(np.float32), np.dtype(np.uint16))


def test_misaligned_pointers():
    assert not misaligned(0) and not misaligned(4096)
    stack = np.zeros((3, 31, 45), np.float32)
    # x[1] of an odd-sized float32 stack starts 31 * 45 * 4 = 5580 bytes in.
    assert misaligned(stack[1].ctypes.data - stack.ctypes.data)


def test_circular_border_on_a_view():
    stack = np.random.default_rng(1).random((3, 31, 45)).astype(np.float32)
    got = gpudeconv.wiener(stack[1], KERNEL, border="circular", backend="numpy")
    expected = gpudeconv.wiener(stack[1].copy(), KERNEL, border="circular", backend="numpy")
    np.testing.assert_array_equal(got, expected)


class _Recording(Backend):
    """The NumPy backend with a huge memory budget, recording the chunking."""

    def __init__(self, fft_work_planes=0):
        super().__init__()
        self.fft_work_planes = fft_work_planes
        self.max_frames = []

    def default_budget(self):
        return 2**50

    def run(self, job):
        self.max_frames.append(job.max_frames)
        return super().run(job)


def test_chunks_stay_below_cuffts_32_bit_element_count():
    assert _chunks.fft_frames_cap((1152, 2000)) == 932
    assert _chunks.fft_frames_cap((2**16, 2**16)) == 1  # never zero
    backend = _Recording()
    gpudeconv.Wiener(KERNEL).run_on(backend, np.zeros((3, 40, 40), np.uint8))
    (max_frames,) = backend.max_frames
    padded = gpudeconv.Wiener(KERNEL).plan(backend, (40, 40), np.float32).padding.padded
    assert max_frames == _chunks.fft_frames_cap(padded)


def test_fft_work_areas_count_in_the_budget():
    # Both backends share the NumPy cache key: a fresh filter for each.
    planes = gpudeconv.Wiener(KERNEL).frames_of_memory
    cpu = gpudeconv.Wiener(KERNEL).plan(_Recording(), (40, 40), np.float32)
    gpu = gpudeconv.Wiener(KERNEL).plan(_Recording(fft_work_planes=2), (40, 40), np.float32)
    assert gpu.bytes_per_frame == cpu.bytes_per_frame * (planes + 2) // planes


class _FakeDevice:
    def __init__(self, id):
        self.id = id


class _FakeCupyArray:
    """Looks like a CuPy array to the dispatcher (module name and device)."""

    __module__ = "cupy._fake"

    def __init__(self, device):
        self.device = _FakeDevice(device)


@pytest.mark.parametrize("backend", ["auto", "cupy"])
def test_device_must_be_the_gpu_holding_a_cupy_input(backend):
    with pytest.raises(ValueError, match=r"device=0 but the image is a CuPy array on GPU 1"):
        resolve_backend(backend, _FakeCupyArray(1), device=0)


@pytest.mark.skipif(cupy_usable(), reason="checks the message without a GPU")
def test_same_device_goes_on_to_the_gpu_check():
    with pytest.raises(RuntimeError, match="CuPy is not usable"):
        resolve_backend("cupy", _FakeCupyArray(1), device=1)
