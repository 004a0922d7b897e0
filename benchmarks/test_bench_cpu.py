"""CPU benchmarks (pytest-benchmark): ``pytest benchmarks --benchmark-enable``.

One 1080p RGB uint8 frame, motion PSF 31 px at 60 degrees, snr 100, default
border, for gpudeconv and its baselines; compare the rows of one run (ratios
are printed by ``benchmarks/cpu_ratios.py``).
"""

import numpy as np
import pytest
import scipy.fft
from cpu_ratios import frame

import gpudeconv
from gpudeconv.commands.baselines import seed_kernel, seed_wiener

KERNEL = gpudeconv.psf.motion(31, 60)


@pytest.fixture(scope="module")
def image():
    return frame()


def test_gpudeconv_wiener_1080p_rgb(benchmark, image):
    restore = gpudeconv.Wiener(KERNEL, snr=100, channel_axis=-1, backend="numpy")
    out = benchmark(restore, image)
    assert out.shape == image.shape and out.dtype == np.uint8


def test_fft_floor_1080p_rgb(benchmark, image):
    planes = np.ascontiguousarray(image.transpose(2, 0, 1)).astype(np.float32)
    benchmark(lambda: scipy.fft.irfft2(scipy.fft.rfft2(planes), s=image.shape[:2]))


def test_seed_final_code_1080p_rgb(benchmark, image):
    benchmark.pedantic(seed_wiener, (image, seed_kernel(31, 60), 100, 50), rounds=3)


def test_skimage_wiener_1080p_rgb(benchmark, image):
    from skimage.restoration import wiener

    def three_channels():
        as_float = image.astype(np.float64) / 255
        return [wiener(as_float[..., c], KERNEL, 0.01) for c in range(3)]

    benchmark.pedantic(three_channels, rounds=3)


def test_gpudeconv_batch_of_8_1080p_rgb(benchmark, image):
    batch = np.repeat(image[None], 8, axis=0)
    restore = gpudeconv.Wiener(KERNEL, snr=100, channel_axis=-1, backend="numpy")
    benchmark.pedantic(restore, (batch,), rounds=3)
