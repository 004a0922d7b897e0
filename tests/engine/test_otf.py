import numpy as np
import pytest
import scipy.ndimage as ndi

from gpudeconv import otf


def psf2otf_reference(psf, shape):
    """MATLAB psf2otf written out: pad at the end, circshift by -floor(k/2), fft2."""
    padded = np.zeros(shape)
    padded[: psf.shape[0], : psf.shape[1]] = psf
    padded = np.roll(padded, (-(psf.shape[0] // 2), -(psf.shape[1] // 2)), axis=(0, 1))
    return np.fft.fft2(padded)


@pytest.mark.parametrize("kshape", [(1, 1), (3, 3), (4, 4), (5, 2), (2, 7), (8, 9)])
@pytest.mark.parametrize("shape", [(16, 16), (15, 22), (9, 10)])
def test_otf_matches_psf2otf(kshape, shape):
    psf = np.random.default_rng(1).random(kshape)
    expected = psf2otf_reference(psf, shape)[:, : shape[1] // 2 + 1]
    result = otf(psf, shape)
    assert result.dtype == np.complex128 and result.shape == expected.shape
    np.testing.assert_allclose(result, expected, atol=1e-12)


@pytest.mark.parametrize("kshape", [(3, 3), (4, 6), (2, 5)])
def test_otf_is_circular_convolution_not_correlation(kshape):
    rng = np.random.default_rng(2)
    image, psf = rng.random((20, 24)), rng.random(kshape)
    via_fft = np.fft.irfft2(np.fft.rfft2(image) * otf(psf, image.shape), s=image.shape)
    np.testing.assert_allclose(via_fft, ndi.convolve(image, psf, mode="wrap"), atol=1e-12)
    assert not np.allclose(via_fft, ndi.correlate(image, psf, mode="wrap"), atol=1e-3)


def test_otf_of_delta_is_one():
    delta = np.zeros((5, 5))
    delta[2, 2] = 1
    np.testing.assert_allclose(otf(delta, (8, 8)), 1, atol=1e-15)


def test_otf_keeps_unnormalised_kernels():
    laplacian = np.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], float)
    assert abs(otf(laplacian, (8, 8))[0, 0]) < 1e-12


@pytest.mark.parametrize("shape", [(2, 2), (8,), "ab", (0, 4), (4.5, 4)])
def test_otf_bad_shape(shape):
    with pytest.raises(ValueError):
        otf(np.ones((3, 3)), shape)
