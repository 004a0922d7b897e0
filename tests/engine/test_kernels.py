"""PSF helpers: scaling a blur to a coarser sampling (a video's chroma planes)."""

import numpy as np
import pytest
import scipy.signal

import gpudeconv
from gpudeconv.engine.kernels import downscale


def moments(kernel):
    rows, cols = np.indices(kernel.shape)
    rows, cols = rows - kernel.shape[0] // 2, cols - kernel.shape[1] // 2
    return (kernel * rows).sum(), (kernel * cols).sum()


@pytest.mark.parametrize(
    "kernel", [gpudeconv.psf.motion(15, 30), gpudeconv.psf.gaussian(2.5), gpudeconv.psf.disk(4.3)]
)
@pytest.mark.parametrize("factors", [(2, 2), (1, 2), (2, 1)])
def test_mass_and_centre_of_mass_scale_exactly(kernel, factors):
    # An off-centre kernel: the centre of mass must move by exactly 1/factor.
    shifted = np.pad(kernel, ((0, 4), (2, 0)))
    small = downscale(shifted, *factors)
    assert small.sum() == pytest.approx(1.0) and (small >= 0).all()
    assert small.shape[0] % 2 == 1 and small.shape[1] % 2 == 1
    expected = np.divide(moments(shifted / shifted.sum()), factors)
    np.testing.assert_allclose(moments(small), expected, atol=1e-12)


def test_a_point_stays_a_point_and_factor_one_is_identity():
    np.testing.assert_array_equal(downscale(np.ones((1, 1)), 2, 2), [[1.0]])
    kernel = gpudeconv.psf.motion(9, 45)
    np.testing.assert_allclose(downscale(kernel, 1, 1), kernel / kernel.sum())


def test_blur_then_subsample_is_subsample_then_blur_by_the_downscaled_psf():
    # A smooth random scene (camera pictures have little power near Nyquist).
    rng = np.random.default_rng(3)
    scene = scipy.signal.fftconvolve(
        rng.normal(size=(300, 300)), gpudeconv.psf.gaussian(1.5), mode="same"
    )
    kernel = gpudeconv.psf.motion(15, 30)

    def subsample(image):  # 2x2 block means, as 4:2:0 chroma is made
        return image.reshape(image.shape[0] // 2, 2, image.shape[1] // 2, 2).mean(axis=(1, 3))

    truth = subsample(scipy.signal.fftconvolve(scene, kernel, mode="same"))[20:-20, 20:-20]

    def error(small_kernel):
        model = scipy.signal.fftconvolve(subsample(scene), small_kernel, mode="same")
        return np.linalg.norm(model[20:-20, 20:-20] - truth) / np.linalg.norm(truth)

    ours = error(downscale(kernel, 2, 2))
    assert ours < 0.12  # 0.08: a block mean is not exactly a blur
    # Markedly better than the full-size PSF or no blur at all.
    assert ours < error(kernel / kernel.sum()) / 3 and ours < error(np.ones((1, 1))) / 3


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_factors_are_refused(bad):
    with pytest.raises(ValueError, match="rows"):
        downscale(gpudeconv.psf.gaussian(1.0), bad, 2)
