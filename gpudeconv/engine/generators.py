"""The parametric PSF generators: linear motion, Gaussian, disk.

They live in the engine so that every wing can build a kernel (the estimate
wing returns its PSF from them); :mod:`gpudeconv.psf` is their public home.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .kernels import check_side, normalize

__all__ = ["disk", "gaussian", "motion"]


def _positive(value, argname: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{argname} must be a real number, got {value!r}")
    value = float(value)
    ok = value >= 0 if allow_zero else value > 0
    if not (ok and math.isfinite(value)):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{argname} must be finite and {bound}, got {value!r}")
    return value


def _size(size, default: int, argname: str = "size") -> int:
    if size is None:
        return default
    if isinstance(size, bool) or not isinstance(size, numbers.Integral):
        raise TypeError(f"{argname} must be an integer, got {size!r}")
    if size < 1:
        raise ValueError(f"{argname} must be >= 1, got {size}")
    check_side(size, f"{argname}={size}")
    return int(size)


def _pad_to(kernel: np.ndarray, size: int) -> np.ndarray:
    """Zero-pad a kernel to ``size`` x ``size`` keeping its centre pixel centred."""
    if size < max(kernel.shape):
        raise ValueError(f"size must be >= {max(kernel.shape)} for this kernel, got {size}")
    widths = [(size // 2 - k // 2, size - k - (size // 2 - k // 2)) for k in kernel.shape]
    return np.pad(kernel, widths)


def motion(length, angle, size=None, *, method: str = "opencv") -> np.ndarray:
    """Linear motion blur of ``length`` pixels at ``angle`` degrees.

    Parameters
    ----------
    length : int or float
        Length of the motion in pixels (>= 1).
    angle : float
        Direction in degrees, counter-clockwise from the column axis (as seen
        on screen, with rows going down).
    size : int, optional
        Side of the square kernel. Defaults to ``length`` (``"opencv"``) or to
        MATLAB's own size (``"matlab"``); a larger size pads with zeros.
    method : {"opencv", "matlab"}
        ``"opencv"`` is the Stack Overflow answer's kernel: a ``size`` x ``size`` zero
        array with a centred segment of ``length`` ones on the middle row,
        rotated about the centre with ``cv2.getRotationMatrix2D`` and
        ``cv2.warpAffine`` (bilinear), normalised. ``"matlab"`` is
        ``fspecial('motion', length, angle)``: an anti-aliased line of width 1.

    Returns
    -------
    psf : (size, size) ndarray of float64
        Sums to 1. MATLAB's kernel without ``size`` keeps MATLAB's own,
        possibly rectangular, shape.

    Examples
    --------
    >>> k = motion(31, 60)
    >>> k.shape, round(float(k.sum()), 12)
    ((31, 31), 1.0)
    >>> motion(3, 45, method="matlab").round(4)[0]
    array([0.    , 0.0754, 0.1883])
    """
    length = _positive(length, "length")
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length!r}")
    check_side(length, f"length={length:g}")
    if isinstance(angle, bool) or not isinstance(angle, numbers.Real):
        raise TypeError(f"angle must be a real number, got {angle!r}")
    if not math.isfinite(angle):
        raise ValueError(f"angle must be finite, got {angle!r}")
    if method == "opencv":
        return _motion_opencv(length, float(angle), size)
    if method == "matlab":
        kernel = _motion_matlab(length, float(angle))
        if size is not None:
            kernel = _pad_to(kernel, _size(size, max(kernel.shape)))
        return kernel
    raise ValueError(f"method must be 'opencv' or 'matlab', got {method!r}")


def _motion_opencv(length: float, angle: float, size) -> np.ndarray:
    import cv2

    n = int(round(length))
    size = _size(size, n)
    if size < n:
        raise ValueError(f"size must be >= length ({n}), got {size}")
    kernel = np.zeros((size, size), np.float32)
    start = (size - n) // 2
    kernel[size // 2, start : start + n] = 1
    centre = (size // 2, size // 2)
    rotation = cv2.getRotationMatrix2D(centre, angle, 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (size, size))
    return normalize(kernel.astype(np.float64), argname="motion kernel")


def _motion_matlab(length: float, angle: float) -> np.ndarray:
    # fspecial('motion'): distance of each pixel of one half-plane to the
    # rotated segment, turned into a 1-px-wide anti-aliased line, then
    # mirrored to the other half.
    eps = np.finfo(np.float64).eps
    half = (length - 1) / 2
    phi = math.radians(angle % 180)
    cosphi, sinphi = math.cos(phi), math.sin(phi)
    xsign = 1.0 if cosphi > 0 else (-1.0 if cosphi < 0 else 0.0)
    width = 1.0
    sx = math.trunc(half * cosphi + width * xsign - length * eps)
    sy = math.trunc(half * sinphi + width - length * eps)
    xs = np.arange(0, sx + xsign, xsign) if xsign != 0 else np.zeros(1)
    xs = xs[: abs(sx) + 1]
    x, y = np.meshgrid(xs, np.arange(0, sy + 1, dtype=np.float64))
    dist = y * cosphi - x * sinphi
    rad = np.hypot(x, y)
    last = (rad >= half) & (np.abs(dist) <= width)
    along = half - np.abs((x[last] + dist[last] * sinphi) / cosphi)
    dist[last] = np.sqrt(dist[last] ** 2 + along**2)
    dist = width + eps - np.abs(dist)
    dist[dist < 0] = 0
    rows, cols = dist.shape
    kernel = np.zeros((2 * rows - 1, 2 * cols - 1))
    kernel[:rows, :cols] = dist[::-1, ::-1]
    kernel[rows - 1 :, cols - 1 :] = dist
    kernel /= kernel.sum() + eps * length * length
    if cosphi > 0:
        kernel = kernel[::-1]
    return normalize(kernel, argname="motion kernel")


def gaussian(sigma, size=None) -> np.ndarray:
    """Isotropic (or axis-aligned) Gaussian blur.

    Parameters
    ----------
    sigma : float or (float, float)
        Standard deviation in pixels, one value or one per axis (row, column).
    size : int, optional
        Side of the square kernel; default ``2 * ceil(3 * max(sigma)) + 1``.

    Returns
    -------
    psf : (size, size) ndarray of float64
        Sums to 1.
    """
    sigmas = sigma if isinstance(sigma, (tuple, list)) else (sigma, sigma)
    if len(sigmas) != 2:
        raise ValueError(f"sigma must be one number or two, got {sigma!r}")
    s_row, s_col = (_positive(s, "sigma") for s in sigmas)
    check_side(6 * max(s_row, s_col) + 1, f"sigma={sigma!r}")
    size = _size(size, 2 * math.ceil(3 * max(s_row, s_col)) + 1)
    r = np.arange(size) - size // 2
    kernel = np.exp(-0.5 * (r[:, None] / s_row) ** 2 - 0.5 * (r[None, :] / s_col) ** 2)
    return normalize(kernel, argname="gaussian kernel")


def disk(radius, *, oversample: int = 16) -> np.ndarray:
    """Uniform defocus blur: a disk of ``radius`` pixels with an anti-aliased rim.

    Each pixel holds the fraction of its area inside the circle (estimated on
    an ``oversample`` x ``oversample`` sub-grid), like MATLAB's
    ``fspecial('disk')``.

    Returns
    -------
    psf : (2 * ceil(radius) + 1, 2 * ceil(radius) + 1) ndarray of float64
        Sums to 1.
    """
    radius = _positive(radius, "radius")
    check_side(2 * math.ceil(radius) + 1, f"radius={radius:g}")
    half = math.ceil(radius)
    size = 2 * half + 1
    sub = (np.arange(size * oversample) + 0.5) / oversample - 0.5 - half
    inside = (sub[:, None] ** 2 + sub[None, :] ** 2) <= radius**2
    coverage = inside.reshape(size, oversample, size, oversample).mean(axis=(1, 3))
    return normalize(coverage, argname="disk kernel")
