"""The streamed host pipeline (the CuPy path's orchestration) on a simulated
device whose copies finish late and out of order: every CI run exercises the
ordering, draining, retry and error paths the GPU runs."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import gpudeconv
from gpudeconv.engine import streaming
from gpudeconv.engine.devices import SimStream, SimulatedBackend, SimulatedDevice

KERNEL = gpudeconv.psf.motion(7, 30)


def frames(shape=(10, 3, 24, 20), seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def streamed(filt, image, seed=0, **device_options):
    backend = SimulatedBackend(SimulatedDevice(seed, **device_options))
    out, call = filt.run_on(backend, image)
    assert backend.sim.idle  # nothing left in flight
    return out, call, backend


METHODS = {
    "wiener": lambda **o: gpudeconv.Wiener(KERNEL, snr=300, **o),
    "wiener-auto": lambda **o: gpudeconv.Wiener(KERNEL, snr="auto", **o),
    "richardson-lucy": lambda **o: gpudeconv.RichardsonLucy(KERNEL, iterations=5, **o),
    "sparse": lambda **o: gpudeconv.SparseDeconvolution(KERNEL, **o),
}


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streamed_equals_numpy_with_many_chunks(method, seed):
    image = frames(seed=seed)
    expected = METHODS[method](channel_axis=1, backend="numpy")(image)
    # A budget of about two frames: 5+ chunks cycling through 3 slots.
    filt = METHODS[method](channel_axis=1, max_memory=40_000)
    got, call, _ = streamed(filt, image, seed=seed, progress=0.2)
    assert call.run.max_frames <= 3
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("layout", ["grey", "hwc", "nhwc"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, np.float64])
def test_streamed_layouts_and_dtypes(layout, dtype):
    shape, channel_axis = {
        "grey": ((5, 30, 26), None),
        "hwc": ((30, 26, 3), -1),
        "nhwc": ((4, 30, 26, 3), -1),
    }[layout]
    image = (np.random.default_rng(3).random(shape) * 200).astype(dtype)
    expected = gpudeconv.wiener(image, KERNEL, channel_axis=channel_axis, backend="numpy")
    filt = gpudeconv.Wiener(KERNEL, channel_axis=channel_axis)
    got, _, _ = streamed(filt, image, seed=4)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_one_image_is_split_to_overlap():
    image = frames((30, 26, 3))
    filt = gpudeconv.Wiener(KERNEL, channel_axis=-1)
    got, call, backend = streamed(filt, image)
    # Three planes, one per chunk: upload, compute and download can overlap.
    assert call.run.max_frames == 1 and backend.sim.uploads == 3
    np.testing.assert_array_equal(got, gpudeconv.wiener(image, KERNEL, channel_axis=-1))


def test_snr_record_matches_numpy():
    image = frames((7, 40, 36))
    _, expected = gpudeconv.wiener(image, KERNEL, snr="auto", backend="numpy", return_snr=True)
    _, call, _ = streamed(gpudeconv.Wiener(KERNEL, snr="auto", max_memory=60_000), image)
    np.testing.assert_array_equal(call.results["snr"], expected)


class _IgnoresStreamWaits(SimulatedDevice):
    """A device on which streams do not wait for events (what a missing
    ``wait_event`` in the orchestration would do)."""

    def stream(self, kind):
        stream = super().stream(kind)
        stream.wait_event = lambda event: None
        return stream


class _HostDoesNotWait(SimulatedDevice):
    """A device whose events never block the host (a missing synchronize)."""

    def event(self):
        event = super().event()
        event.synchronize = lambda: None
        return event


@pytest.mark.parametrize("broken", [_IgnoresStreamWaits, _HostDoesNotWait])
def test_simulator_catches_missing_waits(broken):
    """The simulation is strict enough: without its waits, the same
    orchestration returns wrong frames."""
    image = frames()
    expected = gpudeconv.wiener(image, KERNEL, channel_axis=1, backend="numpy")
    backend = SimulatedBackend(broken(0, progress=0.2))
    got, _ = gpudeconv.Wiener(KERNEL, channel_axis=1, max_memory=40_000).run_on(backend, image)
    assert not np.array_equal(got, expected)


def test_out_of_memory_midway_keeps_finished_chunks_and_retries():
    image = frames((12, 3, 24, 20))
    expected = gpudeconv.wiener(image, KERNEL, channel_axis=1, backend="numpy")
    filt = gpudeconv.Wiener(KERNEL, channel_axis=1)
    # Chunks of 9 planes (3 frames) stage 2 x 4320 bytes on the device: the
    # third slot does not fit while two chunks are in flight.
    got, call, backend = streamed(filt, image, seed=5, memory=2 * 8640 + 100)
    assert call.run.retries >= 1 and call.run.max_frames < 9 and backend.released >= 1
    np.testing.assert_array_equal(got, expected)


def test_a_single_frame_that_never_fits_is_an_error():
    filt = gpudeconv.Wiener(KERNEL)
    with pytest.raises(MemoryError, match="single frame"):
        streamed(filt, frames((2, 24, 20)), memory=100)


def test_an_error_drains_every_stream_and_the_next_call_is_right(monkeypatch):
    image = frames()
    expected = gpudeconv.wiener(image, KERNEL, channel_axis=1, backend="numpy")
    backend = SimulatedBackend(SimulatedDevice(6, progress=0.1))
    filt = gpudeconv.Wiener(KERNEL, channel_axis=1, max_memory=40_000)
    original = gpudeconv.Wiener._apply
    calls = []

    def failing(self, *args):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("simulated kernel failure")
        return original(self, *args)

    monkeypatch.setattr(gpudeconv.Wiener, "_apply", failing)
    with pytest.raises(RuntimeError, match="simulated kernel failure"):
        filt.run_on(backend, image)
    assert backend.sim.idle  # drained in the error path, nothing in flight
    monkeypatch.setattr(gpudeconv.Wiener, "_apply", original)
    got, _ = filt.run_on(backend, image)
    np.testing.assert_array_equal(got, expected)


def test_streams_and_pinned_buffers_are_kept_across_calls():
    image = frames()
    backend = SimulatedBackend(SimulatedDevice(7))
    filt = gpudeconv.Wiener(KERNEL, channel_axis=1)
    first, _ = filt.run_on(backend, image)
    (lane,) = backend.lanes._free
    buffers = [dict(slot.buffers) for slot in lane.slots]
    second, _ = filt.run_on(backend, image)
    assert backend.lanes._free == [lane]
    for slot, before in zip(lane.slots, buffers, strict=True):
        assert all(slot.buffers[name] is buffer for name, buffer in before.items())
    np.testing.assert_array_equal(first, second)


def test_threads_sharing_a_backend_get_their_own_lanes():
    backend = SimulatedBackend(SimulatedDevice(8))
    filt = gpudeconv.Wiener(KERNEL, snr="auto", channel_axis=1, max_memory=40_000)
    images = [frames((n, 3, 24, 20), seed=n) for n in (8, 3, 5, 8)]
    expected = [gpudeconv.wiener(im, KERNEL, snr="auto", channel_axis=1) for im in images]
    for _ in range(3):
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda image: filt.run_on(backend, image), images))
        for (got, call), want, image in zip(results, expected, images, strict=True):
            np.testing.assert_array_equal(got, want)
            assert call.results["snr"].shape == image.shape[:2]
    assert backend.sim.idle and 1 <= len(backend.lanes._free) <= 4


def test_a_failing_call_leaves_its_lane_drained_for_the_next():
    image = np.random.default_rng(9).random((6, 24, 20)).astype(np.float32)
    image[4, 3, 3] = np.nan  # the fifth chunk fails: ValueError naming NaN
    backend = SimulatedBackend(SimulatedDevice(9, progress=0.1))
    filt = gpudeconv.Wiener(KERNEL, max_memory=12_000)
    with pytest.raises(ValueError, match="NaN"):
        filt.run_on(backend, image)
    assert backend.sim.idle and len(backend.lanes._free) == 1
    image[4, 3, 3] = 0.5
    got, _ = filt.run_on(backend, image)
    np.testing.assert_array_equal(got, gpudeconv.wiener(image, KERNEL, backend="numpy"))


def test_simulated_copies_complete_late():
    device = SimulatedDevice(0, progress=0.0)
    stream = device.stream("copy")
    dst, src = np.zeros(4), np.arange(4.0)
    device.upload(dst, src, stream)
    assert not dst.any()  # still in flight
    event = device.event()
    event.record(stream)
    event.synchronize()
    np.testing.assert_array_equal(dst, src)
    assert isinstance(stream, SimStream) and device.idle


def test_chunk_frames_leave_room_to_overlap():
    from gpudeconv.engine.backend import Job
    from gpudeconv.engine.frames import Layout

    image = np.zeros((8, 3, 64, 64), np.uint8)
    job = Job(image, image, image, Layout.of(image, 1), None, max_frames=1000)
    assert streaming.chunk_frames(job) == 6  # 24 planes in 4 chunks
    assert streaming.chunk_frames(job, host_chunk_bytes=64 * 64 * 2) == 2
