import numpy as np
import pytest

import gpudeconv
from gpudeconv.engine.dispatch import cupy_usable, resolve_backend


def test_available_backends_lists_numpy_first():
    backends = gpudeconv.available_backends()
    assert backends[0] == "numpy"
    assert ("cupy" in backends) == cupy_usable()


def test_auto_follows_gpu_availability():
    assert resolve_backend("auto", np.zeros(3)).name == ("cupy" if cupy_usable() else "numpy")


def test_environment_overrides_auto(monkeypatch):
    monkeypatch.setenv("GPUDECONV_BACKEND", "numpy")
    assert resolve_backend("auto", np.zeros(3)).name == "numpy"
    # An explicit choice wins over the environment.
    monkeypatch.setenv("GPUDECONV_BACKEND", "cupy")
    assert resolve_backend("numpy", np.zeros(3)).name == "numpy"


def test_numpy_in_numpy_out():
    out = gpudeconv.wiener(np.ones((8, 8), np.float32), np.ones((3, 3)))
    assert type(out) is np.ndarray


@pytest.mark.gpu
@pytest.mark.skipif(not cupy_usable(), reason="CuPy with a CUDA device is not available")
@pytest.mark.parametrize("backend", ["auto", "cupy", "numpy"])
def test_cupy_in_cupy_out(backend):
    import cupy

    image = cupy.asarray(np.random.default_rng(0).random((2, 20, 20)).astype(np.float32))
    before = image.copy()
    out = gpudeconv.wiener(image, np.ones((3, 3)), backend=backend)
    assert isinstance(out, cupy.ndarray) and out.dtype == cupy.float32
    assert out.device == image.device
    cupy.testing.assert_array_equal(image, before)
    expected = gpudeconv.wiener(image.get(), np.ones((3, 3)), backend="numpy")
    np.testing.assert_allclose(out.get(), expected, rtol=1e-4, atol=1e-5)
