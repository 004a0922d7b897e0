"""Wiener deconvolution against independent references and properties."""

import numpy as np
import pytest
import scipy.signal
from conftest import DATA, assert_close, psnr
from skimage.registration import phase_cross_correlation

import gpudeconv
from gpudeconv import Wiener, blur, wiener
from gpudeconv.commands.baselines import seed_wiener
from gpudeconv.engine.arrays import to_host
from gpudeconv.engine.borders import fast_length


def mirror(index, n):
    folded = np.mod(index, 2 * n)
    return np.where(folded < n, folded, 2 * n - 1 - folded)


def seamless_pad_reference(x, padded):
    """Mirror each axis out to `padded`, cross-fading (raised cosine) from the
    continuation of the far edge into the mirrored near edge."""
    for axis in (0, 1):
        n = x.shape[axis]
        extra = padded[axis] - n
        t = np.arange(extra)
        w = 0.5 - 0.5 * np.cos(np.pi * (t + 0.5) / extra)
        shape = [1, 1]
        shape[axis] = extra
        w = w.reshape(shape)
        past_end = np.take(x, mirror(n + t, n), axis=axis)
        before_start = np.take(x, mirror(t - extra, n), axis=axis)
        x = np.concatenate([x, (1 - w) * past_end + w * before_start], axis=axis)
    return x


def wiener_reference(image, psf, snr, padded=None):
    """Plain float64 Wiener with complex FFTs, one frame."""
    psf = psf / psf.sum()
    rows, cols = image.shape
    frame = image.astype(np.float64)
    if padded is not None:
        frame = seamless_pad_reference(frame, padded)
    big = np.zeros(frame.shape)
    big[: psf.shape[0], : psf.shape[1]] = psf
    h = np.fft.fft2(np.roll(big, (-(psf.shape[0] // 2), -(psf.shape[1] // 2)), (0, 1)))
    g = np.conj(h) / (np.abs(h) ** 2 + 1 / snr)
    return np.real(np.fft.ifft2(np.fft.fft2(frame) * g))[:rows, :cols]


@pytest.mark.parametrize("kshape", [(5, 5), (6, 4), (9, 9)])
def test_matches_float64_reference(backend, kshape):
    rng = np.random.default_rng(7)
    image, psf = rng.random((37, 45)), rng.random(kshape)
    circular = wiener(image, psf, snr=50, border="circular", backend=backend)
    assert_close(circular, wiener_reference(image, psf, 50))
    padded = tuple(fast_length(n + 2 * k) for n, k in zip(image.shape, kshape, strict=True))
    reflect = wiener(image, psf, snr=50, border="reflect", backend=backend)
    assert_close(reflect, wiener_reference(image, psf, 50, padded))


def shift_of(reference, moved) -> np.ndarray:
    shift, _, _ = phase_cross_correlation(
        reference.astype(np.float64), moved.astype(np.float64), upsample_factor=20
    )
    return np.abs(shift)


def camera_sees(sharp, psf, channel_axis=None):
    """Blur a scene that extends beyond the frame (mirror), keep the frame."""
    return blur(sharp, psf, channel_axis=channel_axis, backend="numpy")


@pytest.mark.parametrize("image_name", ["peppers", "astronaut"])
def test_seed_scenario_at_least_as_good_as_seed_and_not_shifted(image_name, request):
    sharp = request.getfixturevalue(image_name)
    channel_axis = -1 if sharp.ndim == 3 else None
    kernel = gpudeconv.psf.motion(31, 60)
    blurred = camera_sees(sharp, kernel, channel_axis)
    seed = seed_wiener(blurred, kernel, snr=100, pad=50)
    ours = wiener(blurred, kernel, snr=100, pad=50, channel_axis=channel_axis)
    assert ours.dtype == np.uint8 and ours.shape == sharp.shape
    assert psnr(sharp, ours) >= psnr(sharp, seed)
    assert psnr(sharp, ours) > psnr(sharp, blurred) + 2
    grey = (lambda a: a.mean(axis=-1)) if channel_axis is not None else (lambda a: a)
    assert shift_of(grey(sharp), grey(ours)).max() < 0.1
    # Default padding is smaller than the seed's 50 px, and still better.
    assert psnr(sharp, wiener(blurred, kernel, channel_axis=channel_axis)) >= psnr(sharp, seed)


def test_uncentred_kernel_would_shift():
    """Guard for the shift test itself: the seed's first mistake (kernel padded
    to the bottom-right, not centred) does shift the result."""
    rng = np.random.default_rng(8)
    sharp = rng.random((96, 96))
    kernel = gpudeconv.psf.gaussian(2.0)
    blurred = blur(sharp, kernel, border="circular")
    wrong = np.zeros_like(kernel)
    wrong[:7, :7] = kernel[6:, 6:]  # the kernel's centre moved to (0, 0)
    restored = wiener(blurred, wrong, snr=1e4, border="circular")
    assert shift_of(sharp, restored).max() > 5


@pytest.mark.parametrize("name", [f"k{i}" for i in range(1, 9)])
def test_levin_camera_shake_convolution_not_correlation(peppers, levin_kernels, name):
    kernel = levin_kernels[name]
    sharp = peppers.astype(np.float64) / 255
    # A true convolution of a wider scene (scipy's, not ours), cropped.
    scene = np.pad(sharp, 40, mode="symmetric")
    blurred = scipy.signal.fftconvolve(scene, kernel, mode="same")[40:-40, 40:-40]
    # Uint8-free data, but the frame's borders are not mirror-symmetric for an
    # asymmetric kernel: the default snr of 100 keeps that error in check.
    restored = wiener(blurred, kernel)
    flipped = wiener(blurred, kernel[::-1, ::-1])
    gain = psnr(sharp, restored, 1.0) - psnr(sharp, blurred, 1.0)
    assert gain > 3, gain
    assert psnr(sharp, restored, 1.0) > psnr(sharp, flipped, 1.0) + 3
    assert shift_of(sharp, restored).max() < 0.1


@pytest.mark.parametrize("dtype, atol", [(np.float64, 0.0), (np.float32, 1e-5)])
def test_skimage_golden_camera_wiener(dtype, atol):
    import cv2

    image = cv2.imread(str(DATA / "camera.png"), cv2.IMREAD_GRAYSCALE) / 255.0
    psf = np.ones((5, 5)) / 25
    data = scipy.signal.convolve(image, psf, "same")
    data += 0.1 * data.std() * np.random.RandomState(0).standard_normal(data.shape)
    golden = np.load(DATA / "camera_wiener.npz")["golden"]
    restored = wiener(
        data.astype(dtype),
        psf.astype(dtype),
        snr=20,
        reg="laplacian",
        border="circular",
        backend="numpy",
    )
    assert restored.dtype == dtype
    # scikit-image clips its output to [-1, 1]; gpudeconv leaves floats alone.
    np.testing.assert_allclose(np.clip(restored, -1, 1), golden, rtol=1e-3, atol=atol)


@pytest.mark.parametrize("kshape", [(4, 4), (6, 2), (3, 5), (1, 1)])
def test_circular_blur_then_restore_recovers_original(backend, kshape):
    rng = np.random.default_rng(9)
    sharp = rng.random((32, 40))
    # A dominant centre pixel keeps |H| away from zero, so the inverse exists.
    kernel = 0.3 * rng.random(kshape)
    kernel[kshape[0] // 2, kshape[1] // 2] += 0.7 * kernel.sum() + 0.7
    blurred = blur(sharp, kernel, border="circular", backend=backend)
    restored = wiener(blurred, kernel, snr=1e12, border="circular", backend=backend)
    np.testing.assert_allclose(to_host(restored), sharp, atol=1e-4)


def test_constant_image_scaled_by_wiener_gain(backend):
    # With R = 1 the zero frequency is scaled by 1 / (1 + 1/snr): a constant
    # frame stays constant (no border artefacts) at exactly that level.
    image = np.full((30, 50), 0.8)
    out = wiener(image, gpudeconv.psf.motion(9, 30), snr=100, backend=backend)
    np.testing.assert_allclose(to_host(out), 0.8 / 1.01, rtol=1e-10)
    lap = wiener(image, gpudeconv.psf.motion(9, 30), snr=100, reg="laplacian", backend=backend)
    np.testing.assert_allclose(to_host(lap), 0.8, rtol=1e-10)


def test_batch_equals_frames_one_by_one(backend):
    rng = np.random.default_rng(10)
    frames = rng.integers(0, 256, (5, 24, 31), dtype=np.uint8)
    kernel = gpudeconv.psf.motion(7, 20)
    batch = wiener(frames, kernel, backend=backend)
    for i in range(5):
        np.testing.assert_array_equal(
            to_host(batch[i]), to_host(wiener(frames[i], kernel, backend=backend))
        )


def test_channel_axis_layouts_agree(backend):
    rng = np.random.default_rng(11)
    hwc = rng.random((4, 20, 26, 3)).astype(np.float32)
    kernel = gpudeconv.psf.gaussian(1.5)
    reference = to_host(wiener(hwc, kernel, channel_axis=-1, backend=backend))
    nchw = np.ascontiguousarray(hwc.transpose(0, 3, 1, 2))
    via_nchw = to_host(wiener(nchw, kernel, channel_axis=1, backend=backend))
    np.testing.assert_allclose(via_nchw.transpose(0, 2, 3, 1), reference, rtol=1e-6, atol=1e-6)
    single = to_host(wiener(hwc[2], kernel, channel_axis=2, backend=backend))
    np.testing.assert_allclose(single, reference[2], rtol=1e-6, atol=1e-6)
    # Channels as a plain batch axis give the same numbers.
    planes = to_host(wiener(nchw[2], kernel, backend=backend))
    np.testing.assert_allclose(planes.transpose(1, 2, 0), reference[2], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "dtype, out_dtype",
    [
        (np.uint8, np.uint8),
        (np.uint16, np.uint16),
        (np.int16, np.int16),
        (np.int32, np.int32),
        (np.float16, np.float32),
        (np.float32, np.float32),
        (np.float64, np.float64),
    ],
)
def test_dtype_contract_and_input_unmodified(backend, dtype, out_dtype):
    rng = np.random.default_rng(12)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "ui" else None
    hi = min(info.max, 5000) if info else 1.0
    image = (rng.random((2, 18, 22)) * hi).astype(dtype)
    before = image.copy()
    out = wiener(image, gpudeconv.psf.motion(5, 45), backend=backend)
    assert isinstance(out, np.ndarray) and out.dtype == out_dtype and out.shape == image.shape
    np.testing.assert_array_equal(image, before)
    expected = wiener(image.astype(np.float64), gpudeconv.psf.motion(5, 45), backend=backend)
    if info:
        expected = np.clip(np.rint(to_host(expected)), info.min, info.max)
        assert np.abs(out.astype(np.float64) - expected).max() <= 1
    else:
        tol = 1e-10 if dtype == np.float64 else 1e-4
        np.testing.assert_allclose(out, to_host(expected), atol=tol * hi)


def test_integer_output_clips_instead_of_wrapping():
    # A bright bar on black rings below 0 and above 255 when sharpened.
    image = np.zeros((40, 40), np.uint8)
    image[:, 18:22] = 255
    kernel = gpudeconv.psf.motion(9, 0)
    floats = wiener(image.astype(np.float32), kernel, snr=1e3, backend="numpy")
    assert floats.min() < -0.5 and floats.max() > 255.5
    out = wiener(image, kernel, snr=1e3, backend="numpy")
    np.testing.assert_array_equal(out, np.clip(np.rint(floats), 0, 255).astype(np.uint8))


def test_precision_override():
    image = np.random.default_rng(13).random((16, 16))
    single = wiener(image, np.ones((3, 3)), precision="single", backend="numpy")
    assert single.dtype == np.float64  # the output keeps the input's dtype
    double = wiener(image, np.ones((3, 3)), backend="numpy")
    assert 0 < np.abs(single - double).max() < 1e-5
    image8 = (image * 255).astype(np.uint8)
    assert wiener(image8, np.ones((3, 3)), precision="double", backend="numpy").dtype == np.uint8


def test_chunked_equals_one_batch():
    rng = np.random.default_rng(14)
    frames = rng.integers(0, 256, (3, 7, 20, 24), dtype=np.uint8)
    kernel = gpudeconv.psf.motion(5, 10)
    whole = wiener(frames, kernel, backend="numpy")
    for budget in (1, 40_000, 200_000):
        np.testing.assert_array_equal(wiener(frames, kernel, max_memory=budget), whole)


def test_wiener_object_reuses_plan_and_matches_function():
    kernel = gpudeconv.psf.motion(11, 75)
    w = Wiener(kernel, snr=300, backend="numpy")
    rng = np.random.default_rng(15)
    a, b = rng.random((40, 50)), rng.random((33, 21))
    np.testing.assert_array_equal(w(a), wiener(a, kernel, snr=300, backend="numpy"))
    np.testing.assert_array_equal(w(b), wiener(b, kernel, snr=300, backend="numpy"))
    np.testing.assert_array_equal(w(a), wiener(a, kernel, snr=300, backend="numpy"))
    assert len(w._plans) == 2
    assert "snr=300" in repr(w)
    assert "snr='auto'" in repr(Wiener(kernel, snr="auto"))


def test_edgetaper_border_reduces_ringing(peppers):
    kernel = gpudeconv.psf.motion(15, 30)
    blurred = camera_sees(peppers, kernel)
    circular = wiener(blurred, kernel, snr=300, border="circular")
    tapered = wiener(blurred, kernel, snr=300, border="edgetaper")
    assert psnr(peppers, tapered) > psnr(peppers, circular) + 2


def test_tiny_image_with_large_psf_is_refused():
    # A blur wider than the frame cannot be undone (issue 13): one clear error,
    # not a finite but meaningless result.
    image = np.random.default_rng(16).random((4, 5))
    with pytest.raises(ValueError, match="31x31 PSF is larger than the frame"):
        wiener(image, gpudeconv.psf.motion(31, 60), backend="numpy")
    out = wiener(image, gpudeconv.psf.motion(3, 60), backend="numpy")
    assert out.shape == (4, 5) and np.isfinite(out).all()


def test_regulariser_array_equals_laplacian_string():
    image = np.random.default_rng(17).random((20, 20))
    from gpudeconv.methods.wiener import LAPLACIAN

    a = wiener(image, np.ones((3, 3)), reg="laplacian", backend="numpy")
    b = wiener(image, np.ones((3, 3)), reg=LAPLACIAN, backend="numpy")
    np.testing.assert_array_equal(a, b)
