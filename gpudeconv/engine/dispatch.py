"""Which array backends exist, and which one a call computes on.

The public functions resolve a backend once, at their boundary
(:func:`resolve_backend`), and hand the object down. Availability of CuPy is
decided once per process: the import must succeed *and* a CUDA device must
answer, so an installed CuPy without a driver counts as absent.
``GPUDECONV_BACKEND=numpy`` (or ``cupy``) overrides ``"auto"``.
"""

from __future__ import annotations

import functools
import numbers
import os
from types import ModuleType
from typing import Any

from .arrays import is_cupy_array
from .backend import Backend, numpy_backend

__all__ = ["available_backends", "check_backend_name", "check_device", "resolve_backend"]

BACKENDS = ("numpy", "cupy")
ENV_BACKEND = "GPUDECONV_BACKEND"


@functools.cache
def _cupy() -> ModuleType | None:
    """The CuPy module when it is importable and a CUDA device answers."""
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
    except Exception:  # ImportError, CUDARuntimeError, driver load failures...
        return None
    return cupy


def cupy_usable() -> bool:
    return _cupy() is not None


def available_backends() -> tuple[str, ...]:
    """The backends usable on this machine, ``"numpy"`` first.

    Examples
    --------
    >>> "numpy" in available_backends()
    True
    """
    return ("numpy", "cupy") if cupy_usable() else ("numpy",)


def cupy_backend(device: int | None = None) -> Backend:
    cp = _cupy()
    if cp is None:
        raise RuntimeError(
            "backend='cupy' was requested but CuPy is not usable here (not "
            "installed, or no CUDA device/driver); install gpudeconv[cuda12] or "
            "gpudeconv[cuda13] on a machine with an NVIDIA GPU, or use backend='numpy'"
        )
    count = cp.cuda.runtime.getDeviceCount()
    if device is None:
        device = cp.cuda.Device().id
    if not 0 <= device < count:
        raise ValueError(f"device must be a GPU index from 0 to {count - 1}, got {device}")
    from .cuda import CupyBackend  # imports CuPy: only once a GPU is known usable

    return CupyBackend.on(device)


def check_backend_name(backend: Any, argname: str = "backend") -> str:
    if not isinstance(backend, str) or backend not in ("auto", *BACKENDS):
        raise ValueError(f"{argname} must be one of 'auto', 'numpy', 'cupy', got {backend!r}")
    return backend


def check_device(device: Any) -> int | None:
    if device is None:
        return None
    if isinstance(device, bool) or not isinstance(device, numbers.Integral) or device < 0:
        raise ValueError(f"device must be None or a GPU index >= 0, got {device!r}")
    return int(device)


def resolve_backend(backend: str, *arrays: Any, device: int | None = None) -> Backend:
    """The backend to compute on for ``arrays``.

    ``"auto"`` keeps CuPy arrays on the GPU, sends NumPy arrays to the GPU when
    one is usable, and otherwise stays on NumPy; ``$GPUDECONV_BACKEND``
    overrides it. ``device`` picks the GPU for NumPy input (default: the
    current one). A CuPy input is computed on the GPU that holds it: a
    ``device`` naming another GPU is an error, since computing there would
    mean a peer-to-peer copy each way (or a peer-access failure).
    """
    backend = check_backend_name(backend)
    device = check_device(device)
    if backend == "auto":
        env = os.environ.get(ENV_BACKEND, "").strip().lower()
        if env:
            backend = check_backend_name(env, f"${ENV_BACKEND}")
    if backend == "auto":
        if any(is_cupy_array(a) for a in arrays) or cupy_usable():
            backend = "cupy"
        else:
            backend = "numpy"
    if backend == "numpy":
        return numpy_backend()
    held = next((a.device.id for a in arrays if is_cupy_array(a)), None)
    if device is not None and held is not None and device != held:
        raise ValueError(
            f"device={device} but the image is a CuPy array on GPU {held}; a CuPy "
            f"image is computed on the GPU that holds it: omit device, or move the "
            f"image first (with cupy.cuda.Device({device}): cupy.asarray(image))"
        )
    return cupy_backend(held if device is None else device)
