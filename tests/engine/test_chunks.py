"""The chunk planner and the out-of-memory retry, without a GPU."""

import math

import numpy as np
import pytest

import gpudeconv
from gpudeconv.engine import chunks as _chunks


def test_frames_per_chunk():
    assert _chunks.frames_per_chunk(1000, 100) == 10
    assert _chunks.frames_per_chunk(99, 100) == 1  # never zero
    assert _chunks.frames_per_chunk(10**9, 0) == 10**9


def test_gpu_budget_from_free_memory_figures():
    gib = 2**30
    # 80 GiB card with 70 GiB free and 6 GiB cached in CuPy's pool: half of 76.
    assert _chunks.gpu_budget(70 * gib, 6 * gib) == 38 * gib
    # Nearly full card: still a workable minimum (the retry handles the rest).
    assert _chunks.gpu_budget(10 * 2**20, 0) == 64 * 2**20
    # 1080p RGB float32 on the GPU: about 4 padded planes of 1152x2000 per frame.
    per_plane = 4 * 1152 * 2000 * 4
    assert _chunks.frames_per_chunk(_chunks.gpu_budget(70 * gib, 0), per_plane) == 1019


@pytest.mark.parametrize("shape", [(10,), (3, 4), (2, 3, 5), (1,), ()])
@pytest.mark.parametrize("max_frames", [1, 2, 3, 7, 100])
def test_batch_chunks_cover_every_frame_once(shape, max_frames):
    seen = np.zeros(shape, int) if shape else np.zeros((), int)
    for index in _chunks.batch_chunks(shape, max_frames):
        block = seen[index]
        assert 1 <= max(block.size, 1) <= max_frames
        seen[index] += 1
    assert (seen == 1).all()


def simulated_gpu(limit):
    """A `process` that fails like an allocation when a chunk holds more than
    `limit` frames, and records what it processed."""
    done = []

    def process(index):
        frames = np.zeros((6, 4))[index]
        if frames.size // 1 > limit * (4 if frames.ndim == 2 else 1):
            raise MemoryError("simulated cudaMalloc failure")
        done.append(index)

    return done, process


def test_run_chunks_halves_and_retries_on_out_of_memory():
    done, process = simulated_gpu(limit=2)
    released = []
    state = _chunks.run_chunks((6, 4), 24, process, on_out_of_memory=lambda: released.append(1))
    covered = np.zeros((6, 4), int)
    for index in done:
        covered[index] += 1
    assert (covered == 1).all()
    assert state.retries >= 1 and state.max_frames <= 8 and released
    starts = [index[0].start for index in done]
    assert starts == sorted(starts)  # in order, nothing skipped or repeated


def test_run_chunks_single_frame_that_does_not_fit():
    def process(index):
        raise MemoryError("simulated")

    with pytest.raises(MemoryError, match="single frame"):
        _chunks.run_chunks((3,), 3, process)


def test_run_chunks_passes_other_errors_through():
    def process(index):
        raise ValueError("not memory")

    with pytest.raises(ValueError, match="not memory"):
        _chunks.run_chunks((3,), 3, process)


def test_wiener_survives_simulated_out_of_memory(monkeypatch):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (9, 3, 24, 20), dtype=np.uint8)
    kernel = gpudeconv.psf.motion(7, 30)
    expected = gpudeconv.wiener(frames, kernel, channel_axis=1, backend="numpy")

    original = gpudeconv.Wiener._apply
    sizes = []

    def flaky_apply(self, backend, plan, chunk, *args):
        n_frames = math.prod(chunk.shape[:-2])
        sizes.append(n_frames)
        if n_frames > 4:
            raise MemoryError("simulated allocation failure")
        return original(self, backend, plan, chunk, *args)

    monkeypatch.setattr(gpudeconv.Wiener, "_apply", flaky_apply)
    w = gpudeconv.Wiener(kernel, channel_axis=1, backend="numpy", max_memory=10**9)
    np.testing.assert_array_equal(w(frames), expected)
    assert w.last_run.retries >= 1 and w.last_run.max_frames <= 4
    assert sizes[0] == 27 and sizes[-1] <= 4 and sizes == sorted(sizes, reverse=True)


def test_device_option_is_validated():
    with pytest.raises(ValueError, match="device"):
        gpudeconv.Wiener(np.ones((3, 3)), device=-1)
    with pytest.raises(ValueError, match="device"):
        gpudeconv.Wiener(np.ones((3, 3)), device="gpu0")
    # On the CPU the device is irrelevant.
    out = gpudeconv.wiener(np.ones((8, 8)), np.ones((3, 3)), backend="numpy", device=1)
    assert out.shape == (8, 8)


@pytest.mark.parametrize("shape", [(16, 300, 400, 3), (1, 1200, 3000), (3, 2, 2000, 2000)])
def test_parallel_copy_copies_everything(shape):
    from gpudeconv.engine.arrays import parallel_copy

    src = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    dst = np.zeros_like(src)
    parallel_copy(dst, src, threads=4)
    np.testing.assert_array_equal(dst, src)
    view = np.zeros((shape[0], *shape[1:]), np.float32)[..., ::1]
    parallel_copy(view, src, threads=3)  # with a cast
    np.testing.assert_array_equal(view, src)
