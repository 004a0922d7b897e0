import numpy as np
import pytest

from gpudeconv import edgetaper
from gpudeconv.engine.arrays import to_host
from gpudeconv.engine.borders import Padding, fast_length, taper_weights


def psf2otf(psf, shape):
    padded = np.zeros(shape)
    padded[: psf.shape[0], : psf.shape[1]] = psf
    return np.fft.fft2(np.roll(padded, (-(psf.shape[0] // 2), -(psf.shape[1] // 2)), (0, 1)))


def edgetaper_reference(image, psf):
    """MATLAB edgetaper, written out with full complex FFTs."""
    psf = psf / psf.sum()
    betas = []
    for axis, n in enumerate(image.shape):
        projection = psf.sum(axis=1 - axis)
        z = np.real(np.fft.ifft(np.abs(np.fft.fft(projection, n - 1)) ** 2))
        betas.append(np.concatenate([z, z[:1]]) / z.max())
    alpha = np.outer(1 - betas[0], 1 - betas[1])
    blurred = np.real(np.fft.ifft2(np.fft.fft2(image) * psf2otf(psf, image.shape)))
    return alpha * image + (1 - alpha) * blurred


@pytest.mark.parametrize("kshape", [(5, 5), (4, 7), (9, 2)])
def test_edgetaper_matches_matlab_formula(backend, kshape):
    rng = np.random.default_rng(3)
    image, psf = rng.random((40, 33)), rng.random(kshape)
    result = edgetaper(image, psf, backend=backend)
    np.testing.assert_allclose(to_host(result), edgetaper_reference(image, psf), atol=1e-12)


def test_edgetaper_weights_are_zero_at_edges_one_inside():
    w = taper_weights((64, 64), np.ones((7, 7)))
    assert w[0, 0] == pytest.approx(0, abs=1e-12) and w[0, 32] == pytest.approx(0, abs=1e-12)
    assert w[32, 32] == pytest.approx(1)


def test_edgetaper_refuses_large_psf():
    with pytest.raises(ValueError, match="half the image"):
        edgetaper(np.zeros((10, 40)), np.ones((5, 5)))


def test_fast_length():
    assert fast_length(1180) == 1200 and fast_length(2020) == 2025
    for n in range(1, 300):
        m = fast_length(n)
        assert m >= n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        assert m == 1


def exact_reflect_reference(x, padded):
    """Centred symmetric padding, shifted so the frame sits at the top-left."""
    extra = [p - n for p, n in zip(padded, x.shape, strict=True)]
    after = [(e + 1) // 2 for e in extra]
    centred = np.pad(x, [(e - a, a) for e, a in zip(extra, after, strict=True)], mode="symmetric")
    return np.roll(centred, [-(e - a) for e, a in zip(extra, after, strict=True)], axis=(0, 1))


@pytest.mark.parametrize(
    "shape, padded", [((10, 12), (16, 20)), ((5, 4), (27, 30)), ((8, 8), (8, 9))]
)
def test_exact_reflect_padding(shape, padded):
    x = np.random.default_rng(4).random(shape)
    buffer = np.empty((2, *padded))
    Padding(shape, padded).fill(np, np.stack([x, 2 * x]), buffer)
    np.testing.assert_array_equal(buffer[0], exact_reflect_reference(x, padded))
    np.testing.assert_array_equal(buffer[1], 2 * exact_reflect_reference(x, padded))


def test_seamless_padding_has_no_seam():
    # A smooth ramp: plain reflection has a jump where the two mirror images
    # meet; the cross-faded extension has no step larger than the ramp's own.
    rows = np.linspace(0, 1, 50)
    x = np.add.outer(rows, rows[:40])
    padded = (64, 54)
    # 14 extra rows bridge a rise of about 1: a raised cosine's steepest step
    # is pi / 2 / 14 = 0.11.
    for seamless, bound in ((True, 0.15), (False, None)):
        buffer = np.empty(padded)
        Padding(x.shape, padded, seamless).fill(np, x, buffer)
        np.testing.assert_array_equal(buffer[:50, :40], x)
        steps = np.abs(np.diff(buffer, axis=0, append=buffer[:1]))
        if seamless:
            assert steps.max() < bound
        else:
            assert steps.max() > 0.5
