"""Automatic Wiener, Richardson–Lucy and the sparse prior against the
targets of the quality benchmark, on real images and camera-shake kernels
with realistic borders (regression guards; the full study is
benchmarks/quality.py)."""

import cv2
import numpy as np
import pytest
import scipy.signal
from conftest import DATA, assert_close, psnr

import gpudeconv
from gpudeconv import deconvolve, richardson_lucy, sparse_deconvolve, wiener
from gpudeconv.engine.arrays import to_host

IMAGES = ["01.png", "02.png", "03.png", "04.png"]
CONSTANTS = (10, 17.8, 31.6, 56.2, 100, 178, 316)


def realistic(sharp, kernel, sigma, seed):
    """Blur the whole scene, keep the centre (as a camera sees it), add noise."""
    valid = scipy.signal.fftconvolve(sharp, kernel, mode="valid")
    r0, c0 = (kernel.shape[0] - 1) // 2, (kernel.shape[1] - 1) // 2
    truth = sharp[r0 : r0 + valid.shape[0], c0 : c0 + valid.shape[1]]
    noisy = valid + sigma * np.random.default_rng(seed).standard_normal(valid.shape)
    return truth, noisy


@pytest.fixture(scope="module")
def cases(levin_kernels):
    out = {}
    for sigma in (0.005, 0.02):
        out[sigma] = []
        for i, name in enumerate(IMAGES):
            sharp = cv2.imread(str(DATA / name), cv2.IMREAD_GRAYSCALE) / 255.0
            for j, kernel in enumerate(levin_kernels.values()):
                out[sigma].append((*realistic(sharp, kernel, sigma, 100 * i + j), kernel))
    return out


def mean_psnr(cases, restore):
    return float(np.mean([psnr(t, restore(y, k), 1.0) for t, y, k in cases]))


@pytest.fixture(scope="module")
def best_constant(cases):
    best = {}
    for sigma, group in cases.items():
        best[sigma] = max(
            mean_psnr(group, lambda y, k, s=s: wiener(y, k, snr=s, backend="numpy"))
            for s in CONSTANTS
        )
    return best


@pytest.mark.parametrize("sigma", [0.005, 0.02])
def test_auto_snr_within_half_a_db_of_best_constant(cases, best_constant, sigma):
    auto = mean_psnr(cases[sigma], lambda y, k: wiener(y, k, snr="auto", backend="numpy"))
    assert auto >= best_constant[sigma] - 0.5, (auto, best_constant[sigma])


@pytest.mark.parametrize("sigma", [0.005, 0.02])
def test_sparse_beats_best_constant_wiener_by_1_5_db(cases, best_constant, sigma):
    sparse = mean_psnr(cases[sigma], lambda y, k: sparse_deconvolve(y, k, backend="numpy"))
    assert sparse >= best_constant[sigma] + 1.5, (sparse, best_constant[sigma])


@pytest.mark.parametrize("sigma", [0.005, 0.02])
def test_richardson_lucy_beats_skimage_by_5_db(cases, sigma):
    from skimage.restoration import richardson_lucy as skimage_rl

    group = cases[sigma][::2]
    ours = mean_psnr(group, lambda y, k: richardson_lucy(y, k, iterations=30, backend="numpy"))
    theirs = mean_psnr(group, lambda y, k: skimage_rl(y, k, num_iter=30))
    assert ours >= theirs + 5, (ours, theirs)


@pytest.mark.parametrize("method", ["wiener", "richardson_lucy", "sparse"])
def test_no_method_shifts_the_image(cases, method):
    from skimage.registration import phase_cross_correlation

    truth, noisy, kernel = cases[0.005][3]
    restored = deconvolve(noisy, kernel, method=method, backend="numpy")
    shift, _, _ = phase_cross_correlation(truth, restored, upsample_factor=20)
    assert np.abs(shift).max() < 0.1, shift


def test_auto_snr_is_per_frame_and_reported(cases):
    (_, a, k), (_, b, _) = cases[0.005][0], cases[0.02][0]
    w = gpudeconv.Wiener(k, snr="auto", backend="numpy")
    w(np.stack([a, b]))
    assert w.last_snr.shape == (2,) and w.last_snr[0] > 2 * w.last_snr[1]
    _, chosen = wiener(a, k, snr="auto", return_snr=True, backend="numpy")
    assert chosen.shape == () and float(chosen) == pytest.approx(w.last_snr[0], rel=1e-6)
    _, constant = wiener(np.stack([a, b]), k, snr=50, return_snr=True, backend="numpy")
    np.testing.assert_array_equal(constant, [50, 50])


@pytest.mark.parametrize("method", ["wiener", "richardson_lucy", "sparse"])
def test_automatic_parameters_stable_under_intensity_scaling(cases, method):
    _, noisy, kernel = cases[0.02][5]
    noisy = noisy.astype(np.float64)
    once = deconvolve(noisy, kernel, method=method, backend="numpy")
    scaled = deconvolve(noisy * 40.0 + 0.0, kernel, method=method, backend="numpy")
    np.testing.assert_allclose(scaled / 40.0, once, rtol=1e-6, atol=1e-8)


def test_richardson_lucy_converges_and_stays_non_negative():
    rng = np.random.default_rng(0)
    sharp = rng.random((48, 56)) ** 3  # many near-black pixels
    kernel = gpudeconv.psf.gaussian(1.5)
    blurred = gpudeconv.blur(sharp, kernel, border="circular", backend="numpy")
    noisy = blurred + 0.01 * rng.standard_normal(blurred.shape)  # some negative values

    def divergence(estimate):  # Csiszar's I-divergence of the data from the model
        model = gpudeconv.blur(estimate, kernel, border="circular", backend="numpy")
        y = blurred
        return float(np.sum(y * np.log(y / model) - y + model))

    previous, errors = np.inf, []
    for iterations in (1, 2, 4, 8, 16, 32):
        estimate = richardson_lucy(
            blurred, kernel, iterations=iterations, border="circular", stop=None, backend="numpy"
        )
        current = divergence(estimate)
        assert current < previous
        previous = current
        errors.append(np.abs(estimate - sharp).mean())
    assert errors[-1] < errors[0]
    restored = richardson_lucy(noisy, kernel, backend="numpy")
    assert restored.min() >= 0


def test_richardson_lucy_reproduces_skimage_golden():
    image = cv2.imread(str(DATA / "camera.png"), cv2.IMREAD_GRAYSCALE) / 255.0
    psf = np.ones((5, 5)) / 25
    data = scipy.signal.convolve2d(image, psf, "same")
    data += 0.1 * data.std() * np.random.RandomState(0).standard_normal(data.shape)
    golden = np.load(DATA / "camera_rl.npz")["golden"]
    restored = richardson_lucy(data, psf, iterations=5, compat="skimage", backend="numpy")
    np.testing.assert_allclose(restored, golden, rtol=1e-3)


@pytest.mark.parametrize("method", ["wiener", "richardson_lucy", "sparse"])
def test_methods_keep_the_contract(backend, method):
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (3, 40, 48, 3), dtype=np.uint8)
    before = frames.copy()
    kernel = gpudeconv.psf.motion(7, 30)
    batch = deconvolve(frames, kernel, method=method, channel_axis=-1, backend=backend)
    assert isinstance(batch, np.ndarray) and batch.dtype == np.uint8 and batch.shape == frames.shape
    np.testing.assert_array_equal(frames, before)
    single = deconvolve(frames[1], kernel, method=method, channel_axis=-1, backend=backend)
    assert np.abs(batch[1].astype(int) - single.astype(int)).max() <= 1
    floats = deconvolve(
        frames.astype(np.float32), kernel, method=method, channel_axis=-1, backend=backend
    )
    assert floats.dtype == np.float32


@pytest.mark.gpu
@pytest.mark.skipif(
    "cupy" not in gpudeconv.available_backends(), reason="CuPy with a CUDA device is not available"
)
@pytest.mark.parametrize("method", ["wiener", "richardson_lucy", "sparse"])
def test_gpu_agrees_with_cpu(method):
    rng = np.random.default_rng(2)
    image = rng.random((2, 64, 80))
    kernel = gpudeconv.psf.motion(9, 45)
    expected = deconvolve(image, kernel, method=method, backend="numpy")
    got = deconvolve(image, kernel, method=method, backend="cupy")
    assert_close(got, expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (
            lambda: richardson_lucy(np.ones((8, 8)), np.ones((3, 3)), iterations=0),
            ValueError,
            "iterations",
        ),
        (
            lambda: richardson_lucy(np.ones((8, 8)), np.ones((3, 3)), iterations=2.5),
            TypeError,
            "iterations",
        ),
        (
            lambda: richardson_lucy(np.ones((8, 8)), np.ones((3, 3)), border="edgetaper"),
            ValueError,
            "border",
        ),
        (
            lambda: richardson_lucy(np.ones((8, 8)), np.ones((3, 3)), compat="matlab"),
            ValueError,
            "compat",
        ),
        (
            lambda: sparse_deconvolve(np.ones((8, 8)), np.ones((3, 3)), weight=-1),
            ValueError,
            "weight",
        ),
        (
            lambda: deconvolve(np.ones((8, 8)), np.ones((3, 3)), method="blind"),
            ValueError,
            "method",
        ),
        (
            lambda: deconvolve(np.ones((8, 8)), np.ones((3, 3)), method="sparse", snr=3),
            TypeError,
            "does not take",
        ),
        (lambda: wiener(np.ones((8, 8)), np.ones((3, 3)), snr="automatic"), TypeError, "snr"),
        (lambda: richardson_lucy(np.full((8, 8), np.nan), np.ones((3, 3))), ValueError, "NaN"),
        (lambda: sparse_deconvolve(np.full((8, 8), np.inf), np.ones((3, 3))), ValueError, "NaN"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_estimate_noise_matches_known_sigma():
    rng = np.random.default_rng(3)
    sharp = cv2.imread(str(DATA / "03.png"), cv2.IMREAD_GRAYSCALE) / 255.0
    blurred = gpudeconv.blur(sharp, gpudeconv.psf.gaussian(2.0), backend="numpy")
    for sigma in (0.01, 0.03):
        noisy = blurred + sigma * rng.standard_normal(blurred.shape)
        assert gpudeconv.estimate_noise(noisy) == pytest.approx(sigma, rel=0.1)
    colour = np.stack([blurred + 0.02 * rng.standard_normal(blurred.shape)] * 3, axis=-1)
    assert to_host(gpudeconv.estimate_noise(colour, channel_axis=-1)).shape == (3,)
