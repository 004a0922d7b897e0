"""GPU-only behaviour (``pytest -m gpu``): skipped, visibly, without a GPU.

Agreement across dtypes, layouts and sizes is also exercised by every test
that takes the ``backend`` fixture; these tests cover what only the CuPy
path has: device residency, streams, chunking and the out-of-memory retry.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import gpudeconv
from gpudeconv.commands import verify
from gpudeconv.engine.arrays import to_host
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
    # cuFFT may pick another algorithm for another batch count: not bitwise.
    assert_within_one_level(chunked, whole)


def assert_within_one_level(got, expected):
    diff = np.abs(to_host(got).astype(np.int64) - to_host(expected).astype(np.int64))
    assert diff.max() <= 1, diff.max()


def test_out_of_memory_halves_and_retries(cp):
    frames = np.random.default_rng(4).integers(0, 256, (48, 256, 256), np.uint8)
    kernel = gpudeconv.psf.motion(15, 45)
    expected = gpudeconv.wiener(frames, kernel, backend="numpy")
    pool = cp.get_default_memory_pool()
    # Staging buffers kept by earlier calls' lanes count against the limit.
    gpudeconv.engine.dispatch.resolve_backend("cupy").release_memory()
    limit = pool.get_limit()
    try:
        # A real allocation failure past 16 MiB: chunks of 12 frames need
        # about 24 MiB, one frame about 2 MiB.
        pool.set_limit(size=16 * 2**20)
        restore = gpudeconv.Wiener(kernel, backend="cupy", max_memory=2**34)
        got = restore(frames)
    finally:
        pool.set_limit(size=limit)
    assert restore.last_run.retries >= 1
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_streamed_equals_upload_compute_download(cp):
    """Host to host through the streams gives what the serial path gives
    (the speed ratio is measured by benchmarks/gpu_overlap.py, not here)."""
    frames = np.random.default_rng(7).integers(0, 256, (8, 270, 480, 3), np.uint8)
    restore = gpudeconv.Wiener(gpudeconv.psf.motion(31, 60), channel_axis=-1, backend="cupy")
    serial = restore(cp.asarray(frames)).get()
    for _ in range(3):
        assert_within_one_level(restore(frames), serial)  # other chunks: not bitwise


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


KERNEL = gpudeconv.psf.motion(15, 30)
STREAMED = {
    "wiener": lambda **o: gpudeconv.Wiener(KERNEL, snr=300, **o),
    "wiener-auto": lambda **o: gpudeconv.Wiener(KERNEL, snr="auto", **o),
    "richardson-lucy": lambda **o: gpudeconv.RichardsonLucy(KERNEL, iterations=20, **o),
    "sparse": lambda **o: gpudeconv.SparseDeconvolution(KERNEL, **o),
}


@pytest.mark.parametrize("method", sorted(STREAMED))
def test_streamed_many_chunks_match_device_resident(cp, method):
    """Many uneven chunks in flight on three streams (plans of two batch
    counts, buffers reused) give the device-resident result, every time."""
    host = np.random.default_rng(8).integers(0, 256, (17, 120, 160, 3), np.uint8)
    make = STREAMED[method]
    expected = make(channel_axis=-1, backend="cupy")(cp.asarray(host))
    streamed = make(channel_axis=-1, backend="cupy")
    backend = gpudeconv.engine.dispatch.resolve_backend("cupy")
    per_frame = streamed.plan(backend, (120, 160), np.float32).bytes_per_frame
    streamed.max_memory = 6 * per_frame  # 8 chunks of 2 frames (6 planes), then one of 3
    for _ in range(5):
        got = streamed(host)
        assert streamed.last_run.max_frames == 6
        assert_within_one_level(got, expected)


def test_device_resident_then_streamed_in_one_thread(cp):
    """The same cached cuFFT plans on the caller's stream, then on the
    lane's compute stream, with nothing synchronised in between."""
    host = np.random.default_rng(9).integers(0, 256, (6, 200, 240, 3), np.uint8)
    device = cp.asarray(host)
    restore = gpudeconv.Wiener(KERNEL, channel_axis=-1, backend="cupy")
    for _ in range(5):
        resident = restore(device)
        streamed = restore(host)
        assert_within_one_level(streamed, resident)


def test_threads_share_a_filter_and_the_backend(cp):
    restore = gpudeconv.Wiener(KERNEL, channel_axis=-1, backend="cupy")
    images = [
        np.random.default_rng(n).integers(0, 256, (n, 96, 128, 3), np.uint8) for n in (8, 3, 5, 8)
    ]
    alone = [restore(image) for image in images]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            for got, expected in zip(pool.map(restore, images), alone, strict=True):
                np.testing.assert_array_equal(got, expected)


def test_repeated_calls_keep_the_memory_pool_flat(cp):
    pool = cp.get_default_memory_pool()
    restore = gpudeconv.Wiener(KERNEL, snr="auto", channel_axis=-1, backend="cupy")
    host = np.random.default_rng(10).integers(0, 256, (8, 180, 240, 3), np.uint8)
    device = cp.asarray(host)
    totals = []
    for _ in range(23):
        restore(host)
        restore(device)
        cp.cuda.Device().synchronize()
        totals.append(pool.total_bytes())
    assert len(set(totals[3:])) == 1, totals  # after warming up: 20 calls, flat


def test_misaligned_view_with_circular_border(cp):
    stack = np.random.default_rng(11).random((3, 31, 45)).astype(np.float32)
    view = cp.asarray(stack)[1]
    assert view.data.ptr % 16 != 0  # what cuFFT rejects (CuPy issue #9229)
    got = gpudeconv.wiener(view, KERNEL, border="circular", backend="cupy")
    expected = gpudeconv.wiener(stack[1], KERNEL, border="circular", backend="numpy")
    np.testing.assert_allclose(got.get(), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [">f8", ">f4", ">u2"])
def test_big_endian_host_input(cp, dtype):
    native = (np.random.default_rng(12).random((2, 40, 36)) * 1000).astype(dtype[1:])
    got = gpudeconv.wiener(native.astype(dtype), KERNEL, backend="cupy")
    expected = gpudeconv.wiener(native, KERNEL, backend="numpy")
    assert got.dtype == expected.dtype and got.dtype.isnative
    if expected.dtype == np.float64:
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1.0)


def test_two_gpus(cp):
    if cp.cuda.runtime.getDeviceCount() < 2:
        pytest.skip("needs two GPUs")
    host = np.random.default_rng(13).integers(0, 256, (4, 64, 80), np.uint8)
    expected = gpudeconv.wiener(host, KERNEL, backend="numpy")
    with cp.cuda.Device(1):
        on_second = cp.asarray(host)
    out = gpudeconv.wiener(on_second, KERNEL, backend="cupy")
    assert out.device.id == 1
    assert_within_one_level(out, expected)
    with pytest.raises(ValueError, match="device=0"):
        gpudeconv.wiener(on_second, KERNEL, backend="cupy", device=0)
    assert_within_one_level(gpudeconv.wiener(host, KERNEL, backend="cupy", device=1), expected)


def test_auto_snr_device_resident_has_no_sync_inside_a_chunk(cp, monkeypatch):
    # Issue 10, defect 3: the choice of snr runs on the device, batched over
    # planes; the only device-to-host transfer a chunk may make is the one that
    # records its planes' chosen snr once all of its work is queued.
    from gpudeconv.engine.chunks import batch_chunks

    frames = cp.asarray(np.random.default_rng(4).integers(0, 256, (12, 96, 128, 3), np.uint8))
    restore = gpudeconv.Wiener(
        gpudeconv.psf.motion(9, 20), snr="auto", channel_axis=-1, backend="cupy", max_memory=2**21
    )
    restore(frames)  # plans first
    transfers = []

    def counting(name):
        original = getattr(cp.ndarray, name)

        def wrapped(self, *args, **kwargs):
            transfers.append(name)
            return original(self, *args, **kwargs)

        return wrapped

    for name in ("get", "__float__", "__int__", "__bool__", "item", "tolist"):
        monkeypatch.setattr(cp.ndarray, name, counting(name))
    out = restore(frames)
    monkeypatch.undo()
    chunks = len(list(batch_chunks((12, 3), restore.last_call.run.max_frames)))
    assert chunks >= 2, "the budget should split the call"
    assert len(transfers) <= chunks, transfers
    assert isinstance(out, cp.ndarray) and np.all(np.isfinite(restore.last_snr))
