"""The seed thread's final method, re-implemented from ``shared/SEED.md``.

This is the baseline that gpudeconv is measured against, in speed and in
quality, on the CPU (NumPy, as the thread wrote it) and on the GPU (the same
code with CuPy: what a CuPy user would write first). It is deliberately
faithful, slow parts included (complex FFTs over three axes in float64, a
padded size with large prime factors, truncation to uint8): do not "fix" it.
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


def seed_wiener_padded(blurred_padded, kernel, snr: float = 100, pad: int = 50, xp=np):
    """The seed's "complete code": restore an already padded frame, crop ``pad``."""
    rows, cols = blurred_padded.shape[:2]
    kernel = xp.asarray(kernel)
    k_rows, k_cols = kernel.shape
    pr, pc = rows - k_rows, cols - k_cols
    kernel_padded = xp.pad(kernel, (((pr + 1) // 2, pr // 2), ((pc + 1) // 2, pc // 2)))
    transfer = xp.fft.fft2(xp.fft.fftshift(kernel_padded))
    spectrum = xp.fft.fftn(blurred_padded)  # over every axis, channels included
    wiener = xp.conj(transfer) / (xp.abs(transfer) ** 2 + 1 / snr)
    if spectrum.ndim == 3:
        filtered = xp.dstack([spectrum[:, :, c] * wiener for c in range(spectrum.shape[2])])
    else:
        filtered = spectrum * wiener
    restored = xp.fft.ifftn(filtered)
    assert float(xp.abs(restored.imag).max()) < 1e-6 * max(1.0, float(xp.abs(restored.real).max()))
    result = xp.clip(restored.real, 0, 255).astype(xp.uint8)
    return result[pad:-pad, pad:-pad]


def seed_wiener(blurred: np.ndarray, kernel, snr: float = 100, pad: int = 50) -> np.ndarray:
    """What a seed user does with only the blurred photo: pad it, restore, crop."""
    padded = cv2.copyMakeBorder(blurred, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    return seed_wiener_padded(padded, kernel, snr, pad)


def seed_wiener_cupy(blurred: np.ndarray, kernel, snr: float = 100, pad: int = 50) -> np.ndarray:
    """The straightforward CuPy port: upload, the same code on ``cupy``, download."""
    import cupy

    frame = cupy.asarray(blurred)
    widths = ((pad, pad), (pad, pad)) + ((0, 0),) * (frame.ndim - 2)
    padded = cupy.pad(frame, widths, mode="symmetric")  # = BORDER_REFLECT
    return seed_wiener_padded(padded, kernel, snr, pad, xp=cupy).get()
