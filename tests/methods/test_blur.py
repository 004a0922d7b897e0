import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.signal

from gpudeconv import blur
from gpudeconv.engine.arrays import to_host


def direct_convolution(image, psf, mode):
    """out[i, j] = sum_ab psf[a, b] * image[i - a + k_r // 2, j - b + k_c // 2]."""
    k_r, k_c = psf.shape
    pad = ((k_r, k_r), (k_c, k_c))
    padded = np.pad(image, pad, mode="symmetric" if mode == "reflect" else "wrap")
    out = np.zeros_like(image, dtype=np.float64)
    for a in range(k_r):
        for b in range(k_c):
            r0, c0 = k_r - a + k_r // 2, k_c - b + k_c // 2
            out += psf[a, b] * padded[r0 : r0 + image.shape[0], c0 : c0 + image.shape[1]]
    return out


@pytest.mark.parametrize("kshape", [(3, 3), (4, 4), (5, 2), (2, 6), (7, 7)])
@pytest.mark.parametrize("border", ["reflect", "circular"])
def test_blur_is_true_convolution(backend, kshape, border):
    rng = np.random.default_rng(5)
    image, psf = rng.random((23, 30)), rng.random(kshape)
    psf /= psf.sum()
    expected = direct_convolution(image, psf, border)
    result = blur(image, psf, border=border, backend=backend)
    np.testing.assert_allclose(to_host(result), expected, atol=1e-12)
    mode = "reflect" if border == "reflect" else "wrap"
    np.testing.assert_allclose(expected, ndi.convolve(image, psf, mode=mode), atol=1e-12)


def test_blur_matches_fftconvolve_for_odd_kernels():
    rng = np.random.default_rng(6)
    image, psf = rng.random((30, 30)), rng.random((5, 7))
    psf /= psf.sum()
    padded = np.pad(image, 10, mode="symmetric")
    expected = scipy.signal.fftconvolve(padded, psf, mode="same")[10:-10, 10:-10]
    np.testing.assert_allclose(blur(image, psf, backend="numpy"), expected, atol=1e-12)


def test_blur_uint8_rounds_and_keeps_dtype():
    image = np.full((16, 16), 200, np.uint8)
    image[8:, :] = 10
    out = blur(image, np.ones((3, 3)), backend="numpy")
    assert out.dtype == np.uint8
    expected = np.rint(ndi.convolve(image.astype(float), np.ones((3, 3)) / 9, mode="reflect"))
    np.testing.assert_array_equal(out, expected)


def test_blur_refuses_edgetaper():
    with pytest.raises(ValueError, match="border"):
        blur(np.zeros((8, 8)), np.ones((3, 3)), border="edgetaper")
