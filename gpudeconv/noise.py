"""Noise level of an image, estimated from the image itself.

The finest diagonal Haar wavelet band of a natural image holds almost nothing
but noise (all the more so when the image is blurred); the median absolute
coefficient over 0.6745 is then a robust estimate of the standard deviation
of white Gaussian noise (Donoho and Johnstone, 1994; scikit-image's
``estimate_sigma`` does the same with its db1 wavelet).
"""

from __future__ import annotations

import numpy as np

from . import _frames
from ._arrays import to_host
from ._backend import resolve_backend

__all__ = ["estimate_noise"]

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


def estimate_noise(image, *, channel_axis=None, backend="auto") -> np.ndarray:
    """Standard deviation of additive white noise in each frame of ``image``.

    Parameters
    ----------
    image : (..., M, N[, C]) array
        Layout as in :func:`gpudeconv.wiener`; in the image's own units
        (uint8 noise comes out in grey levels).

    Returns
    -------
    sigma : ndarray of float
        One value per frame (and channel), shape ``image.shape`` without the
        spatial axes (channels last); a 0-d array for a single grey frame.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> noisy = np.full((256, 256), 0.5) + 0.02 * rng.standard_normal((256, 256))
    >>> round(float(estimate_noise(noisy)), 3)
    0.02
    """
    image = _frames.as_image(image)
    layout = _frames.Layout.of(image, channel_axis)
    be = resolve_backend(backend, image)
    with be.context():
        frames = be.asarray(layout.frames(image))
        return to_host(haar_sigma(be.xp, frames))
