"""border="unknown": the regularised least-squares solution with only the
frame's pixels in the data term, against a dense solve."""

import numpy as np
import pytest
import scipy.ndimage
from conftest import larger_scene_crop, psnr

import gpudeconv
from gpudeconv.engine.arrays import to_host
from gpudeconv.engine.borders import Padding
from gpudeconv.methods import unknown_boundary
from gpudeconv.methods.wiener import LAPLACIAN


def circulant(kernel, padded):
    """Dense matrix of the circular convolution with ``kernel`` (odd sizes,
    centred at k // 2) on the padded frame, column by column (scipy.ndimage)."""
    n = padded[0] * padded[1]
    columns = []
    for j in range(n):
        unit = np.zeros(n)
        unit[j] = 1
        columns.append(scipy.ndimage.convolve(unit.reshape(padded), kernel, mode="wrap").ravel())
    return np.array(columns).T


@pytest.mark.parametrize("reg", [None, "laplacian"])
def test_converges_to_the_dense_least_squares_solution(monkeypatch, backend, reg):
    monkeypatch.setattr(unknown_boundary, "TOLERANCE", 0.0)  # run every iteration
    rng = np.random.default_rng(4)
    shape, snr = (10, 12), 50.0
    psf = rng.random((3, 5)) + 0.2
    psf /= psf.sum()
    y = rng.random(shape)
    padded = Padding.reflect(shape, psf.shape, None).padded
    frame = np.zeros(padded, bool)
    frame[: shape[0], : shape[1]] = True
    blur = circulant(psf, padded)[frame.ravel()]  # M H: the frame's rows only
    r = np.eye(blur.shape[1]) if reg is None else circulant(LAPLACIAN, padded)
    normal = blur.T @ blur + r.T @ r / snr
    # The solver regularises deviations from the frame's mean, whose level
    # the plain Wiener filter's zero frequency passes (1 / (1 + 1/snr) with
    # R = 1, 1 with the Laplacian).
    mean = y.mean()
    level = 1 / (1 + 1 / snr) if reg is None else 1.0
    x = np.linalg.solve(normal, blur.T @ (y.ravel() - mean)).reshape(padded) + level * mean
    restored = gpudeconv.wiener(
        y, psf, snr=snr, reg=reg, border="unknown", iterations=400, backend=backend
    )
    np.testing.assert_allclose(to_host(restored), x[: shape[0], : shape[1]], atol=1e-8)


def test_beats_harmonic_on_a_larger_scene(peppers):
    kernel = gpudeconv.psf.motion(21, 30)
    sharp, blurred = larger_scene_crop(peppers, kernel)
    best = {
        border: max(
            psnr(sharp, gpudeconv.wiener(blurred, kernel, snr=snr, border=border, reg="laplacian"))
            for snr in (300, 1000, 3000)
        )
        for border in ("harmonic", "unknown")
    }
    assert best["unknown"] > best["harmonic"] + 1.0, best


def test_constant_frames_and_batches(backend):
    image = np.full((3, 30, 40), 0.5)
    kernel = gpudeconv.psf.motion(9, 30)
    out = gpudeconv.wiener(
        image, kernel, snr=100, reg="laplacian", border="unknown", backend=backend
    )
    np.testing.assert_allclose(to_host(out), 0.5, atol=1e-6)
    rng = np.random.default_rng(2)
    frames = rng.integers(0, 256, (3, 28, 33), dtype=np.uint8)
    batch = to_host(gpudeconv.wiener(frames, kernel, snr=300, border="unknown", backend=backend))
    for i in range(3):
        one = to_host(
            gpudeconv.wiener(frames[i], kernel, snr=300, border="unknown", backend=backend)
        )
        assert np.abs(batch[i].astype(int) - one).max() <= 1


def test_gpu_agrees_with_cpu(backend):
    rng = np.random.default_rng(6)
    frames = rng.random((2, 40, 52, 3)).astype(np.float32)
    kernel = gpudeconv.psf.motion(11, 120)
    options = dict(channel_axis=-1, snr=300, border="unknown", iterations=10)
    cpu = gpudeconv.wiener(frames, kernel, backend="numpy", **options)
    other = to_host(gpudeconv.wiener(frames, kernel, backend=backend, **options))
    np.testing.assert_allclose(other, cpu, atol=2e-4)


def test_options_are_checked():
    k = np.ones((3, 3))
    with pytest.raises(ValueError, match="numeric snr"):
        gpudeconv.Wiener(k, snr="auto", border="unknown")
    with pytest.raises(ValueError, match="iterations applies"):
        gpudeconv.Wiener(k, border="reflect", iterations=5)
    with pytest.raises(ValueError, match="needs a numeric snr"):
        gpudeconv.Wiener(k, snr="auto", iterations=1)
    assert gpudeconv.Wiener(k, snr="auto").iterations == 0
    assert gpudeconv.Wiener(k).iterations == 0
    assert gpudeconv.Wiener(k, iterations=1).iterations == 1
    with pytest.raises(ValueError, match="iterations must be >= 0"):
        gpudeconv.Wiener(k, border="unknown", iterations=-1)


@pytest.mark.parametrize("method", ["richardson_lucy", "sparse"])
def test_iterative_methods_take_the_unknown_border(peppers, method):
    # They already keep only the frame's pixels in the data term; "unknown"
    # starts them from the harmonic extension.
    kernel = gpudeconv.psf.motion(15, 30)
    sharp, blurred = larger_scene_crop(peppers, kernel)
    restored = gpudeconv.deconvolve(blurred, kernel, method, border="unknown")
    assert psnr(sharp, restored) > psnr(sharp, blurred) + 2
