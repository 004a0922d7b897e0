"""PSF validation and normalisation, shared by every filter and generator.

A PSF is a 2-D float64 NumPy array that sums to 1: Wiener's ``1/snr`` is
scale-free only for a normalised PSF. PSFs are tiny, so they live on the host;
the filters move them to the device.
"""

from __future__ import annotations

import numpy as np

from .arrays import to_host

__all__ = ["check_kernel", "normalize", "MAX_SIDE", "check_side", "downscale"]

#: The largest PSF side the generators make (pixels): a 4096 x 4096 float64
#: kernel is 128 MiB; camera blur in the largest photos is a few hundred px.
MAX_SIDE = 4096


def check_side(side: float, what: str) -> None:
    """A ValueError, before any allocation, for a kernel side over MAX_SIDE."""
    if side > MAX_SIDE:
        raise ValueError(
            f"{what} gives a kernel side of {side:.6g} pixels; the largest PSF is "
            f"{MAX_SIDE} pixels a side"
        )


def normalize(psf, *, argname: str = "psf") -> np.ndarray:
    """Validate a PSF and return it as float64, normalised to sum 1.

    Parameters
    ----------
    psf : (M, N) array_like
        Non-negative weights are typical; signed PSFs are accepted as long as
        their sum is positive.

    Raises
    ------
    TypeError
        For complex, boolean, object or non-numeric input.
    ValueError
        For a PSF that is not 2-D, is empty, holds NaN or Inf, or whose sum is
        not positive.
    """
    arr = check_kernel(psf, argname=argname)
    total = arr.sum()
    if not total > 0:
        raise ValueError(
            f"{argname} must have a positive sum (it is normalised to sum 1), got sum {total:g}"
        )
    return arr / total


def check_kernel(kernel, *, argname: str = "psf") -> np.ndarray:
    """A finite, real, 2-D float64 copy of ``kernel`` (not normalised)."""
    arr = to_host(kernel)
    if arr.dtype.kind not in "uif":
        raise TypeError(f"{argname} must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(
            f"{argname} must be a 2-D array, got {arr.ndim} dimension(s) with shape {arr.shape}"
        )
    if arr.size == 0:
        raise ValueError(f"{argname} must not be empty, got shape {arr.shape}")
    arr = np.array(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{argname} must not contain NaN or Inf values")
    return arr


def downscale(psf, rows: int, cols: int) -> np.ndarray:
    """``psf`` as it blurs a picture sampled ``rows`` and ``cols`` times more
    coarsely (a video's chroma planes: 2 and 2 for 4:2:0), normalised.

    Each weight moves to its offset from the centre pixel divided by the
    factors and is shared bilinearly between the four nearest coarse pixels:
    the triangle filter of a 2x decimation, so that a picture blurred then
    subsampled is, up to that filter, the subsampled picture blurred by the
    result. The centre pixel ``(k_r // 2, k_c // 2)`` stays the centre.
    """
    kernel = normalize(psf)
    for name, factor in (("rows", rows), ("cols", cols)):
        if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {factor!r}")
    if rows == cols == 1:
        return kernel
    k_r, k_c = kernel.shape
    ys, xs = np.nonzero(kernel)
    weights = kernel[ys, xs]
    ys, xs = (ys - k_r // 2) / rows, (xs - k_c // 2) / cols
    # Half sides of the result: the farthest weight plus the bilinear share.
    h_r, h_c = int(np.ceil(np.abs(ys).max())), int(np.ceil(np.abs(xs).max()))
    out = np.zeros((2 * h_r + 1, 2 * h_c + 1))
    y0, x0 = np.floor(ys), np.floor(xs)
    fy, fx = ys - y0, xs - x0
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            share = weights * wy * wx
            keep = share != 0  # a share on the far side of the last row/column is zero
            np.add.at(
                out,
                ((y0 + dy)[keep].astype(int) + h_r, (x0 + dx)[keep].astype(int) + h_c),
                share[keep],
            )
    return out / out.sum()
