import cv2
import numpy as np
import pytest

from gpudeconv import psf


def seed_kernel(length, angle):
    """The seed thread's add_motion_blur kernel, written out as in SEED.md."""
    k = np.zeros((length, length), np.float32)
    k[length // 2, :] = 1
    m = cv2.getRotationMatrix2D((length // 2, length // 2), angle, 1)
    k = cv2.warpAffine(k, m, (length, length))
    return k / k.sum()


@pytest.mark.parametrize("length", [1, 2, 3, 7, 10, 15, 31, 64])
@pytest.mark.parametrize("angle", [0, 30, 45, 60, 90, 123.5, 180, -20, 300])
def test_motion_equals_seed_kernel(length, angle):
    k = psf.motion(length, angle)
    assert k.dtype == np.float64 and k.shape == (length, length)
    np.testing.assert_allclose(k, seed_kernel(length, angle), atol=1e-6)
    assert k.sum() == pytest.approx(1.0, abs=1e-12)


def test_motion_larger_size_keeps_centre():
    k = psf.motion(5, 0, size=9)
    assert k.shape == (9, 9)
    np.testing.assert_allclose(k[4, 2:7], 0.2)
    assert k.sum() == pytest.approx(1.0)


def test_motion_matlab_known_value():
    expected = [[0, 0.0754, 0.1883], [0.0754, 0.3215, 0.0754], [0.1883, 0.0754, 0]]
    np.testing.assert_allclose(psf.motion(3, 45, method="matlab"), expected, atol=5e-5)


@pytest.mark.parametrize("angle", [0, 90, 180])
def test_motion_matlab_axis_aligned(angle):
    k = psf.motion(5, angle, method="matlab")
    np.testing.assert_allclose(k.ravel(), 0.2)
    assert k.shape == ((5, 1) if angle == 90 else (1, 5))


def test_motion_matlab_size_pads_centrally():
    k = psf.motion(5, 0, size=7, method="matlab")
    assert k.shape == (7, 7)
    np.testing.assert_allclose(k[3, 1:6], 0.2)


def test_gaussian():
    k = psf.gaussian(2.0)
    assert k.shape == (13, 13)
    assert k.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(k, k.T)
    assert np.unravel_index(k.argmax(), k.shape) == (6, 6)
    rows = np.arange(13) - 6
    profile = k[:, 6] / k[6, 6]
    np.testing.assert_allclose(profile, np.exp(-(rows**2) / 8), rtol=1e-12)
    assert psf.gaussian((1.0, 3.0)).shape == (19, 19)


def test_disk_area_and_symmetry():
    k = psf.disk(5)
    assert k.shape == (11, 11)
    assert k.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(k, k[::-1, ::-1])
    np.testing.assert_allclose(k, k.T)
    # Interior pixels are fully covered, corners not at all, the rim partly.
    assert k[5, 5] == pytest.approx(k.max())
    assert k[0, 0] == 0
    assert 0 < k[5, 0] < k[5, 5]


@pytest.mark.parametrize(
    "call, exc",
    [
        (lambda: psf.motion(0, 10), ValueError),
        (lambda: psf.motion(0.5, 10), ValueError),
        (lambda: psf.motion(-3, 10), ValueError),
        (lambda: psf.motion("abc", 10), TypeError),
        (lambda: psf.motion(5, float("nan")), ValueError),
        (lambda: psf.motion(5, 0, size=3), ValueError),
        (lambda: psf.motion(5, 0, method="nope"), ValueError),
        (lambda: psf.gaussian(0), ValueError),
        (lambda: psf.gaussian(-1), ValueError),
        (lambda: psf.gaussian(float("inf")), ValueError),
        (lambda: psf.disk(0), ValueError),
        (lambda: psf.normalize(np.zeros((3, 3))), ValueError),
        (lambda: psf.normalize(-np.ones((3, 3))), ValueError),
        (lambda: psf.normalize(np.full((3, 3), np.nan)), ValueError),
        (lambda: psf.normalize(np.ones(3)), ValueError),
        (lambda: psf.normalize(np.ones((3, 3, 3))), ValueError),
        (lambda: psf.normalize(np.ones((0, 3))), ValueError),
        (lambda: psf.normalize(np.ones((3, 3), complex)), TypeError),
        (lambda: psf.normalize(np.ones((3, 3), bool)), TypeError),
    ],
)
def test_bad_psf_parameters(call, exc):
    with pytest.raises(exc):
        call()


def test_normalize_message_names_problem():
    with pytest.raises(ValueError, match="positive sum"):
        psf.normalize(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="2-D"):
        psf.normalize(np.ones(4))
