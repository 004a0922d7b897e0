"""The seed thread's final method, re-implemented from ``shared/SEED.md``.

This is the baseline that gpudeconv is measured against, in speed and in
quality. It is deliberately faithful, slow parts included (complex FFTs over
three axes in float64, a padded size with large prime factors): do not
"fix" it.
"""

from __future__ import annotations

import cv2
import numpy as np


def seed_kernel(size: int = 31, angle: float = 60) -> np.ndarray:
    """``add_motion_blur``'s kernel: a rotated middle row, normalised."""
    kernel = np.zeros((size, size), np.float32)
    kernel[size // 2, :] = 1
    rotation = cv2.getRotationMatrix2D((size // 2, size // 2), angle, 1)
    kernel = cv2.warpAffine(kernel, rotation, (size, size))
    return kernel / kernel.sum()


def seed_blur(image: np.ndarray, kernel: np.ndarray, pad: int = 50) -> np.ndarray:
    """The seed's test set-up: mirror-pad the original, blur with filter2D.

    Returns the *padded* blurred image, as the seed restored it.
    """
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    return cv2.filter2D(padded, -1, kernel)


def seed_wiener_padded(
    blurred_padded: np.ndarray, kernel: np.ndarray, snr: float = 100, pad: int = 50
) -> np.ndarray:
    """The seed's "complete code": restore an already padded frame, crop ``pad``."""
    rows, cols = blurred_padded.shape[:2]
    k_rows, k_cols = kernel.shape
    pr, pc = rows - k_rows, cols - k_cols
    kernel_padded = np.pad(kernel, (((pr + 1) // 2, pr // 2), ((pc + 1) // 2, pc // 2)))
    transfer = np.fft.fft2(np.fft.fftshift(kernel_padded))
    spectrum = np.fft.fftn(blurred_padded)  # over every axis, channels included
    wiener = np.conj(transfer) / (np.abs(transfer) ** 2 + 1 / snr)
    if spectrum.ndim == 3:
        filtered = np.dstack([spectrum[:, :, c] * wiener for c in range(spectrum.shape[2])])
    else:
        filtered = spectrum * wiener
    restored = np.fft.ifftn(filtered)
    assert np.abs(restored.imag).max() < 1e-6 * max(1.0, np.abs(restored.real).max())
    result = np.clip(restored.real, 0, 255).astype(np.uint8)
    return result[pad:-pad, pad:-pad]


def seed_wiener(
    blurred: np.ndarray, kernel: np.ndarray, snr: float = 100, pad: int = 50
) -> np.ndarray:
    """What a seed user does with only the blurred photo: pad it, restore, crop."""
    padded = cv2.copyMakeBorder(blurred, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    return seed_wiener_padded(padded, kernel, snr, pad)
