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
    as a float array of the batch shape (on ``frames``' device)."""
    rows, cols = (n - n % 2 for n in frames.shape[-2:])
    if rows == 0 or cols == 0:
        return xp.zeros(frames.shape[:-2])
    f = frames[..., :rows, :cols].astype(np.float64 if frames.dtype == np.float64 else np.float32)
    diagonal = f[..., 0::2, 0::2] - f[..., 0::2, 1::2] - f[..., 1::2, 0::2] + f[..., 1::2, 1::2]
    diagonal = xp.abs(diagonal.reshape(*frames.shape[:-2], -1))
    # A quarter of a million coefficients pin the median down to 0.1%.
    stride = max(1, diagonal.shape[-1] // 2**18)
    return xp.median(diagonal[..., ::stride], axis=-1) / (2 * _MAD_TO_SIGMA)
