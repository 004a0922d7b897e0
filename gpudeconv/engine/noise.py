"""Noise level of frames from their finest diagonal Haar wavelet band.

That band of a natural image holds almost nothing but noise (all the more so
when the image is blurred); the median absolute coefficient over 0.6745 is a
robust estimate of the standard deviation of white Gaussian noise (Donoho and
Johnstone, 1994).
"""

from __future__ import annotations

import numpy as np

__all__ = ["haar_sigma"]

_MAD_TO_SIGMA = 0.6744897501960817  # the median of |N(0, 1)|


def haar_sigma(xp, frames):
    """Noise standard deviation of each frame of ``frames`` (..., rows, cols),
    as a float array of the batch shape (on ``frames``' device).

    Integer frames give integer coefficients, whose plain median moves in
    steps of 0.74 (in the frames' units): there the median is interpolated
    within its integer bin (the median of grouped data), which resolves the
    noise of an 8-bit photograph, quantisation included, to a few percent."""
    rows, cols = (n - n % 2 for n in frames.shape[-2:])
    if rows == 0 or cols == 0:
        return xp.zeros(frames.shape[:-2])
    f = frames[..., :rows, :cols].astype(np.float64 if frames.dtype == np.float64 else np.float32)
    diagonal = f[..., 0::2, 0::2] - f[..., 0::2, 1::2] - f[..., 1::2, 0::2] + f[..., 1::2, 1::2]
    diagonal = xp.abs(diagonal.reshape(*frames.shape[:-2], -1))
    # A quarter of a million coefficients pin the median down to 0.1%.
    stride = max(1, diagonal.shape[-1] // 2**18)
    diagonal = diagonal[..., ::stride]
    median = xp.median(diagonal, axis=-1)
    if frames.dtype.kind in "ui":
        median = _grouped_median(xp, diagonal, median)
    return median / (2 * _MAD_TO_SIGMA)


def _grouped_median(xp, values, median):
    """The median of integer ``values`` (..., n) spread uniformly over each
    integer's bin [m - 1/2, m + 1/2] (the bin of 0 is [0, 1/2]: they are
    absolute values); batched, without leaving the device."""
    m = xp.floor(median)[..., None]
    below = (values < m - 0.5).sum(axis=-1)
    at = xp.maximum((values == m).sum(axis=-1), 1)
    low = xp.maximum(m[..., 0] - 0.5, 0)
    width = xp.where(m[..., 0] > 0, 1.0, 0.5)
    return low + (values.shape[-1] / 2 - below) / at * width
