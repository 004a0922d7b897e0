"""PSF -> transfer function (optical transfer function) for a frame shape."""

from __future__ import annotations

import numbers

import numpy as np

from .arrays import is_cupy_array
from .backend import Backend, numpy_backend
from .dispatch import resolve_backend
from .kernels import check_kernel

__all__ = ["otf"]


def otf(psf, shape) -> np.ndarray:
    """Transfer function of ``psf`` for frames of ``shape`` (MATLAB ``psf2otf``).

    The PSF is zero-padded to ``shape`` and circularly shifted so that its
    centre pixel ``(k_r // 2, k_c // 2)`` sits at the origin, then transformed
    with a real 2-D FFT. Multiplying a frame's ``rfft2`` by the result and
    inverting is a circular convolution with ``psf`` (not a correlation).

    Parameters
    ----------
    psf : (k_r, k_c) array_like
        Used as given (not normalised), so regularisers such as a Laplacian,
        which sums to 0, are accepted.
    shape : (int, int)
        Frame shape (rows, columns); each at least the PSF's.

    Returns
    -------
    H : (shape[0], shape[1] // 2 + 1) ndarray of complex128
        On the PSF's device (a CuPy PSF gives a CuPy array).

    Examples
    --------
    >>> import numpy as np
    >>> H = otf(np.ones((3, 3)) / 9, (8, 8))
    >>> H.shape, bool(np.isclose(H[0, 0], 1))
    ((8, 5), True)
    """
    shape = frame_shape(shape)
    backend = resolve_backend("cupy", psf) if is_cupy_array(psf) else numpy_backend()
    return transfer_function(backend, check_kernel(psf), shape)


def frame_shape(shape) -> tuple[int, int]:
    try:
        rows, cols = shape
    except (TypeError, ValueError):
        raise ValueError(f"shape must be a pair (rows, columns), got {shape!r}") from None
    for n in (rows, cols):
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"shape must hold two positive integers, got {shape!r}")
    return int(rows), int(cols)


def transfer_function(backend: Backend, kernel: np.ndarray, shape: tuple[int, int]):
    """complex128 ``rfft2`` of ``kernel`` centred at the origin of ``shape``,
    computed on ``backend`` (``kernel`` is a validated float64 host array)."""
    k_r, k_c = kernel.shape
    if k_r > shape[0] or k_c > shape[1]:
        raise ValueError(f"the PSF ({k_r}x{k_c}) is larger than the frame {shape[0]}x{shape[1]}")
    xp = backend.xp
    # Scatter the kernel straight to its wrapped place: the same as MATLAB's
    # pad-then-circshift(-floor(k/2)), without a second full-frame array.
    rows = (np.arange(k_r) - k_r // 2) % shape[0]
    cols = (np.arange(k_c) - k_c // 2) % shape[1]
    with backend.context():
        rows, cols = xp.asarray(rows), xp.asarray(cols)
        placed = xp.zeros(shape, xp.float64)
        placed[rows[:, None], cols[None, :]] = xp.asarray(kernel)
        return backend.rfft2(placed)
