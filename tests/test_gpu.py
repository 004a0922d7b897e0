"""GPU-only behaviour (``pytest -m gpu``): skipped, visibly, without a GPU.

Agreement across dtypes, layouts and sizes is also exercised by every test
that takes the ``backend`` fixture; these tests cover what only the CuPy
path has: device residency, streams, chunking and the out-of-memory retry.
"""

import time

import numpy as np
import pytest

import gpudeconv
from gpudeconv.commands import verify
from gpudeconv.engine.dispatch import cupy_usable

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not cupy_usable(), reason="CuPy with a CUDA device is not available"),
]


@pytest.fixture
def cp():
    import cupy

    return cupy


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32, np.float64])
@pytest.mark.parametrize("layout", ["grey", "hwc", "nhwc", "nchw"])
@pytest.mark.parametrize("size", [(31, 45), (480, 640)])
def test_agrees_with_numpy(dtype, layout, size):
    rng = np.random.default_rng(1)
    shape, channel_axis = {
        "grey": (size, None),
        "hwc": ((*size, 3), -1),
        "nhwc": ((4, *size, 3), -1),
        "nchw": ((4, 3, *size), 1),
    }[layout]
    if np.dtype(dtype).kind in "ui":
        image = rng.integers(0, min(np.iinfo(dtype).max, 4000), shape).astype(dtype)
    else:
        image = rng.random(shape).astype(dtype)
    kernel = verify.camera_shake_psf()
    expected = gpudeconv.wiener(image, kernel, channel_axis=channel_axis, backend="numpy")
    got = gpudeconv.wiener(image, kernel, channel_axis=channel_axis, backend="cupy")
    assert isinstance(got, np.ndarray) and got.dtype == expected.dtype
    tol = verify.tolerance(dtype, expected)
    assert np.abs(got.astype(np.float64) - expected.astype(np.float64)).max() <= tol


@pytest.mark.parametrize("case", verify.cases([(96, 128)])[::5], ids=lambda c: c.label())
def test_verify_cases(case):
    result = verify.compare(case)
    assert result.ok, (result.max_diff, result.tol)


def test_cupy_in_cupy_out_without_host_copy(cp, monkeypatch):
    frames = cp.asarray(np.random.default_rng(2).integers(0, 256, (3, 64, 80, 3), np.uint8))
    restore = gpudeconv.Wiener(gpudeconv.psf.motion(9, 20), channel_axis=-1, backend="cupy")
    restore(frames)  # plan first: the filter itself is computed on the device anyway

    def no_host_copy(*args, **kwargs):
        raise AssertionError("a device-resident call copied to the host")

    monkeypatch.setattr(cp.ndarray, "get", no_host_copy)
    monkeypatch.setattr(cp, "asnumpy", no_host_copy)
    out = restore(frames)
    assert isinstance(out, cp.ndarray) and out.dtype == cp.uint8 and out.shape == frames.shape
    assert out.device == frames.device


@pytest.mark.parametrize("resident", [True, False])
def test_chunked_equals_one_shot(cp, resident):
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, (12, 3, 100, 90), np.uint8)
    data = cp.asarray(frames) if resident else frames
    kernel = gpudeconv.psf.motion(15, 45)
    whole = gpudeconv.wiener(data, kernel, channel_axis=1, backend="cupy", max_memory=2**34)
    small = gpudeconv.Wiener(kernel, channel_axis=1, backend="cupy", max_memory=200_000)
    chunked = small(data)
    assert small.last_run.max_frames < 36
    np.testing.assert_array_equal(
        gpudeconv.engine.arrays.to_host(chunked), gpudeconv.engine.arrays.to_host(whole)
    )


def test_out_of_memory_halves_and_retries(cp):
    frames = np.random.default_rng(4).integers(0, 256, (48, 256, 256), np.uint8)
    kernel = gpudeconv.psf.motion(15, 45)
    expected = gpudeconv.wiener(frames, kernel, backend="numpy")
    pool = cp.get_default_memory_pool()
    pool.free_all_blocks()
    limit = pool.get_limit()
    try:
        # A real allocation failure past 24 MiB: 48 frames need about 64 MiB,
        # one frame about 1.5 MiB.
        pool.set_limit(size=24 * 2**20)
        restore = gpudeconv.Wiener(kernel, backend="cupy", max_memory=2**34)
        got = restore(frames)
    finally:
        pool.set_limit(size=limit)
    assert restore.last_run.retries >= 1
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_streams_overlap(cp):
    """Host to host through two streams beats upload, compute and download
    done one after another."""
    frames = np.ascontiguousarray(
        np.broadcast_to(gpudeconv.commands.bench.frames("1080p", 1), (48, 1080, 1920, 3))
    )
    restore = gpudeconv.Wiener(gpudeconv.psf.motion(31, 60), channel_axis=-1, backend="cupy")

    def sequential():
        device = cp.asarray(frames)
        out = restore(device)
        cp.cuda.Device().synchronize()
        return out.get()

    def streamed():
        return restore(frames)

    for fn in (sequential, streamed):
        fn()
    t_seq = min(_timed(sequential) for _ in range(3))
    t_streamed = min(_timed(streamed) for _ in range(3))
    np.testing.assert_array_equal(streamed(), sequential())
    assert t_streamed < t_seq, (t_streamed, t_seq)


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def test_device_option(cp):
    image = np.random.default_rng(5).random((32, 32)).astype(np.float32)
    out = gpudeconv.wiener(image, np.ones((3, 3)), backend="cupy", device=0)
    np.testing.assert_allclose(
        out, gpudeconv.wiener(image, np.ones((3, 3)), backend="numpy"), atol=1e-5
    )
    with pytest.raises(ValueError, match="device"):
        gpudeconv.wiener(image, np.ones((3, 3)), backend="cupy", device=999)


def test_dask_with_cupy_chunks(cp):
    da = pytest.importorskip("dask.array")
    import gpudeconv.dask as gd

    host = np.random.default_rng(6).integers(0, 256, (6, 64, 80, 3), np.uint8)
    lazy = gd.wiener(
        da.from_array(cp.asarray(host), chunks=(2, 64, 80, 3)),
        gpudeconv.psf.motion(9, 30),
        channel_axis=-1,
        backend="cupy",
    )
    assert isinstance(lazy._meta, cp.ndarray)
    got = lazy.compute()
    assert isinstance(got, cp.ndarray)
    expected = gpudeconv.wiener(host, gpudeconv.psf.motion(9, 30), channel_axis=-1, backend="numpy")
    assert np.abs(got.get().astype(int) - expected.astype(int)).max() <= 1
