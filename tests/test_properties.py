"""Property tests over shapes, dtypes and PSF sizes."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import gpudeconv

DTYPES = [np.uint8, np.uint16, np.int16, np.float16, np.float32, np.float64]


@st.composite
def cases(draw):
    rows, cols = draw(st.integers(2, 40)), draw(st.integers(2, 40))
    batch = draw(st.sampled_from([(), (1,), (3,), (2, 2)]))
    dtype = draw(st.sampled_from(DTYPES))
    k_r, k_c = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    seed = draw(st.integers(0, 2**32 - 1))
    border = draw(st.sampled_from(["reflect", "circular"]))
    # A PSF larger than the frame is refused (tests/test_errors.py).
    k_r, k_c = min(k_r, rows), min(k_c, cols)
    return (*batch, rows, cols), np.dtype(dtype), (k_r, k_c), seed, border


def draw_image(shape, dtype, rng):
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, -1000), min(info.max, 1000), shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


@settings(max_examples=60, deadline=None)
@given(cases())
def test_shape_dtype_and_batch_properties(case):
    shape, dtype, kshape, seed, border = case
    rng = np.random.default_rng(seed)
    image = draw_image(shape, dtype, rng)
    kernel = rng.random(kshape) + 0.01
    before = image.copy()
    out = gpudeconv.wiener(image, kernel, border=border, backend="numpy")
    assert out.shape == image.shape
    assert out.dtype == (np.float32 if dtype == np.float16 else dtype)
    assert np.isfinite(out.astype(np.float64)).all()
    np.testing.assert_array_equal(image, before)
    # Each frame of a batch is restored on its own.
    if image.ndim > 2:
        first = image.reshape(-1, *shape[-2:])[0]
        single = gpudeconv.wiener(first, kernel, border=border, backend="numpy")
        np.testing.assert_array_equal(out.reshape(-1, *shape[-2:])[0], single)


@settings(max_examples=40, deadline=None)
@given(cases(), st.floats(0.1, 250.0))
def test_constant_frames_stay_constant(case, level):
    # A constant frame has no edges: reflect padding must not invent any, and
    # the zero frequency is scaled by exactly 1 / (1 + 1/snr).
    shape, _, kshape, seed, border = case
    image = np.full(shape, level)
    kernel = np.random.default_rng(seed).random(kshape) + 0.01
    out = gpudeconv.wiener(image, kernel, snr=50, border=border, backend="numpy")
    np.testing.assert_allclose(out, level / (1 + 1 / 50), rtol=1e-9)


@settings(max_examples=40, deadline=None)
@given(cases())
def test_blur_preserves_mean_for_circular_frames(case):
    shape, _, kshape, seed, _ = case
    rng = np.random.default_rng(seed)
    image = rng.random(shape)
    kernel = rng.random((min(kshape[0], shape[-2]), min(kshape[1], shape[-1]))) + 0.01
    blurred = gpudeconv.blur(image, kernel, border="circular", backend="numpy")
    np.testing.assert_allclose(blurred.mean(axis=(-2, -1)), image.mean(axis=(-2, -1)), rtol=1e-9)
