"""Shared fixtures: one ``backend`` parameter runs each test on NumPy and, with
a visible skip when no GPU is usable, on CuPy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from gpudeconv.engine.arrays import to_host
from gpudeconv.engine.dispatch import cupy_usable

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

needs_gpu = [
    pytest.mark.gpu,
    pytest.mark.skipif(not cupy_usable(), reason="CuPy with a CUDA device is not available"),
]


@pytest.fixture(params=["numpy", pytest.param("cupy", marks=needs_gpu)])
def backend(request) -> str:
    return request.param


@pytest.fixture
def xp(backend):
    if backend == "cupy":
        import cupy

        return cupy
    return np


def on_host(a) -> np.ndarray:
    return to_host(a)


def assert_close(actual, expected, *, rtol=None, atol=0.0, dtype_check=True):
    """Compare on the host; tolerances default by dtype."""
    actual_h, expected_h = to_host(actual), to_host(expected)
    assert actual_h.shape == expected_h.shape
    if dtype_check:
        assert actual_h.dtype == expected_h.dtype, (actual_h.dtype, expected_h.dtype)
    if rtol is None:
        rtol = 1e-5 if actual_h.dtype == np.float32 else 1e-10
    np.testing.assert_allclose(actual_h, expected_h, rtol=rtol, atol=atol)


def psnr(reference, test, data_range=255.0) -> float:
    diff = to_host(test).astype(np.float64) - to_host(reference).astype(np.float64)
    return float(10 * np.log10(data_range**2 / np.mean(diff**2)))


@pytest.fixture(scope="session")
def peppers() -> np.ndarray:
    """Set12's Peppers (the seed thread's image), 256x256 grey uint8."""
    return cv2.imread(str(DATA / "03.png"), cv2.IMREAD_GRAYSCALE)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """The package's built-in colour photograph, (rows, cols, 3) uint8 BGR."""
    from gpudeconv.commands.demo import builtin_image

    return builtin_image()


@pytest.fixture(scope="session")
def levin_kernels() -> dict[str, np.ndarray]:
    with np.load(DATA / "levin09_kernels.npz") as f:
        return {k: f[k] for k in sorted(f.files)}


def run_gpudeconv(*args, cwd=None, timeout=300):
    """The command line in a subprocess, on the CPU, from this source tree."""
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root), GPUDECONV_BACKEND="numpy")
    return subprocess.run(
        [sys.executable, "-m", "gpudeconv", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


def larger_scene_crop(image, kernel, margin=40):
    """Blur a whole image (a true convolution), keep an inner crop: the frame
    a camera with that blur would see, with light from outside the frame."""
    import scipy.signal

    scene = image.astype(np.float64)
    blurred = scipy.signal.fftconvolve(scene, kernel, mode="same")
    crop = (slice(margin, -margin), slice(margin, -margin))
    return scene[crop], np.round(blurred[crop])
