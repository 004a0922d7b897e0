"""Bad input gets a ValueError/TypeError that names the problem."""

import warnings

import numpy as np
import pytest

import gpudeconv
from gpudeconv import Wiener, blur, wiener
from gpudeconv.engine.dispatch import cupy_usable

GOOD = np.random.default_rng(0).random((16, 16))
PSF = np.ones((3, 3))


def nan_image():
    a = GOOD.copy()
    a[3, 4] = np.nan
    return a


def inf_image():
    a = GOOD.astype(np.float32)
    a[0, 0] = -np.inf
    return a


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(image=nan_image()), ValueError, "NaN or infinite"),
        (dict(image=inf_image()), ValueError, "NaN or infinite"),
        (dict(image=np.zeros((0, 5))), ValueError, "empty"),
        (dict(image=np.zeros(5)), ValueError, "two spatial axes"),
        (dict(image=np.zeros((4, 3)), channel_axis=-1), ValueError, "two spatial axes"),
        (dict(image=np.ones((8, 8), complex)), TypeError, "complex"),
        (dict(image=np.ones((8, 8), bool)), TypeError, "bool"),
        (dict(image=np.array([[1, "a"], [2, 3]], dtype=object)), TypeError, "object"),
        (dict(image="not an image"), TypeError, "dtype"),
        (dict(psf=np.zeros((3, 3))), ValueError, "positive sum"),
        (dict(psf=np.full((3, 3), np.nan)), ValueError, "NaN"),
        (dict(psf=-np.ones((3, 3))), ValueError, "positive sum"),
        (dict(psf=np.ones(3)), ValueError, "2-D"),
        (dict(psf=np.ones((3, 3, 3))), ValueError, "2-D"),
        (dict(snr=0), ValueError, "snr"),
        (dict(snr=-5), ValueError, "snr"),
        (dict(snr=float("nan")), ValueError, "snr"),
        (dict(snr=float("inf")), ValueError, "snr"),
        (dict(snr="100"), TypeError, "snr"),
        (dict(snr=True), TypeError, "snr"),
        (dict(border="mirror"), ValueError, "border"),
        (dict(backend="tpu"), ValueError, "backend"),
        (dict(pad=-1), ValueError, "pad"),
        (dict(pad=(1, 2, 3)), ValueError, "pad"),
        (dict(pad=2.5), TypeError, "pad"),
        (dict(pad=4, border="circular"), ValueError, "pad"),
        (dict(channel_axis=3, image=np.zeros((4, 4, 3))), ValueError, "channel_axis"),
        (dict(channel_axis=-4, image=np.zeros((4, 4, 3))), ValueError, "channel_axis"),
        (dict(channel_axis=1.0), TypeError, "channel_axis"),
        (dict(reg="tv"), ValueError, "reg"),
        (dict(reg=np.ones(3)), ValueError, "reg"),
        (dict(precision="half"), ValueError, "precision"),
        (dict(max_memory=0), ValueError, "max_memory"),
        (dict(border="circular", psf=np.ones((20, 20))), ValueError, "larger than the frame"),
    ],
)
def test_bad_input_raises_named_error(kwargs, exc, match):
    args = dict(image=GOOD, psf=PSF)
    args.update(kwargs)
    image, psf = args.pop("image"), args.pop("psf")
    with pytest.raises(exc, match=match):
        wiener(image, psf, backend=args.pop("backend", "numpy"), **args)


def test_good_input_raises_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for dtype in (np.uint8, np.uint16, np.float16, np.float32, np.float64):
            wiener((GOOD * 200).astype(dtype), PSF, backend="numpy")
        wiener(np.zeros((16, 16)), PSF, backend="numpy")  # all black
        blur((GOOD * 200).astype(np.uint8), PSF, backend="numpy")


def test_huge_finite_values_get_precision_hint():
    image = np.full((8, 8), 3e37, np.float32)
    with pytest.raises(ValueError, match="precision='double'"):
        wiener(image, PSF, backend="numpy")
    assert np.isfinite(wiener(image, PSF, backend="numpy", precision="double")).all()


def test_constructor_validates_before_any_image():
    with pytest.raises(ValueError, match="snr"):
        Wiener(PSF, snr=-1)
    with pytest.raises(ValueError, match="border"):
        Wiener(PSF, border="zeros")


@pytest.mark.skipif(cupy_usable(), reason="checks the message shown when no GPU is usable")
def test_cupy_without_gpu_is_a_clear_runtime_error():
    with pytest.raises(RuntimeError, match="CuPy is not usable"):
        wiener(GOOD, PSF, backend="cupy")


def test_bad_environment_backend(monkeypatch):
    monkeypatch.setenv("GPUDECONV_BACKEND", "opencl")
    with pytest.raises(ValueError, match="GPUDECONV_BACKEND"):
        gpudeconv.wiener(GOOD, PSF)


@pytest.mark.parametrize("method", ["wiener", "richardson_lucy", "sparse"])
def test_a_colour_photo_without_channel_axis_is_refused_with_the_fix(astronaut, method):
    k = gpudeconv.psf.motion(15, 30)
    photo = gpudeconv.blur(astronaut, k, channel_axis=-1)
    with pytest.raises(ValueError, match=r"channel_axis=-1"):
        gpudeconv.deconvolve(photo, k, method=method, backend="numpy")
    with pytest.raises(ValueError, match=r"channel_axis=-1"):
        gpudeconv.deconvolve(np.dstack([photo, photo[..., :1]]), k, method=method)
    restored = gpudeconv.deconvolve(photo, k, method=method, channel_axis=-1, backend="numpy")
    assert restored.shape == photo.shape


def test_stacks_of_frames_wider_than_the_psf_are_fine():
    # (3 frames of 16x16): the last axis is not a colour axis here.
    stack = np.random.default_rng(0).random((3, 16, 16))
    assert wiener(stack, PSF).shape == stack.shape
    # (16, 16, 3) with a 3x3 PSF: frames of 16x3 fit the PSF, so nothing is refused.
    assert wiener(stack.transpose(1, 2, 0), PSF).shape == (16, 16, 3)


def test_a_psf_larger_than_the_image_is_one_clear_error():
    with pytest.raises(ValueError, match=r"the 31x31 PSF is larger than the frame \(16x16"):
        wiener(GOOD, gpudeconv.psf.motion(31, 0))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: gpudeconv.psf.disk(1e6), "radius=1e\\+06"),
        (lambda: gpudeconv.psf.motion(1e9, 0), "length=1e\\+09"),
        (lambda: gpudeconv.psf.motion(9, 0, size=10**6), "size=1000000"),
        (lambda: gpudeconv.psf.gaussian(1e5), "sigma=100000"),
        (lambda: gpudeconv.psf.gaussian(float("1e308")), "sigma"),
    ],
)
def test_absurd_psf_sizes_are_refused_before_allocating(make, match):
    with pytest.raises(ValueError, match=match + ".*largest PSF is 4096 pixels"):
        make()
