"""Noise level of an image, estimated from the image itself.

The finest diagonal Haar wavelet band of a natural image holds almost nothing
but noise (all the more so when the image is blurred); the median absolute
coefficient over 0.6745 is then a robust estimate of the standard deviation
of white Gaussian noise (Donoho and Johnstone, 1994; scikit-image's
``estimate_sigma`` does the same with its db1 wavelet).
"""

from __future__ import annotations

import numpy as np

from .engine import frames as _frames
from .engine.arrays import to_host
from .engine.dispatch import resolve_backend
from .engine.noise import haar_sigma

__all__ = ["estimate_noise"]


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
