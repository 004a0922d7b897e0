"""One filter shared by many threads (dask's threaded scheduler, a web
server): every call gets its own result and its own per-frame record."""

import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import gpudeconv

KERNEL = gpudeconv.psf.motion(9, 30)


def stack(n_frames, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n_frames, 48, 40), dtype=np.uint8)


def test_dask_threads_share_one_filter_over_uneven_chunks():
    """Chunks of 8 and 3 frames on 4 threads: before per-call records, the
    shared ``last_snr`` made this fail (``could not broadcast input array from
    shape (8,) into shape (3,)``) or mix up frames."""
    da = pytest.importorskip("dask.array")
    import dask

    import gpudeconv.dask as gd

    host = stack(44)
    expected = gpudeconv.wiener(host, KERNEL, snr="auto", backend="numpy")
    lazy = gd.deconvolve(
        da.from_array(host, chunks=((8, 3) * 4, 48, 40)), KERNEL, snr="auto", backend="numpy"
    )
    with dask.config.set(scheduler="threads", num_workers=4):
        for _ in range(5):
            np.testing.assert_array_equal(lazy.compute(), expected)


@pytest.mark.parametrize("method", ["wiener", "sparse"])
def test_threads_get_their_own_records(method):
    if method == "wiener":
        filt = gpudeconv.Wiener(KERNEL, snr="auto", backend="numpy")
        name = "snr"
    else:
        filt = gpudeconv.SparseDeconvolution(KERNEL, backend="numpy")
        name = "weight"
    images = [stack(n, seed=n) for n in (8, 3, 5, 1, 8, 3)]
    alone = []
    for image in images:
        out, call = filt.run_on(gpudeconv.engine.backend.numpy_backend(), image)
        alone.append((out, call.results[name]))

    def work(image):
        out = filt(image)
        record = filt.last_snr if name == "snr" else filt.last_weight
        return out, record

    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            for (out, record), (want, want_record) in zip(
                pool.map(work, images), alone, strict=True
            ):
                np.testing.assert_array_equal(out, want)
                np.testing.assert_array_equal(record, want_record)


def test_plans_are_made_once_under_contention():
    filt = gpudeconv.Wiener(KERNEL, backend="numpy")
    made = []
    original = type(filt)._make_plan

    def counting(self, *args):
        made.append(1)
        return original(self, *args)

    type(filt)._make_plan = counting
    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: filt(stack(2)), range(16)))
    finally:
        type(filt)._make_plan = original
    assert len(made) == 1


def test_a_filter_pickles_without_its_plans():
    filt = gpudeconv.Wiener(KERNEL, snr="auto", backend="numpy")
    image = stack(2)
    expected = filt(image)
    copy = pickle.loads(pickle.dumps(filt))
    assert copy.last_call is None and not copy._plans
    np.testing.assert_array_equal(copy(image), expected)
