"""Spatial tiles that reproduce the whole image: the filter's reach and the
padded frame as a dask array.

A Wiener filter with the harmonic border is, exactly, a circular filter over
the padded frame (the frame plus its extension, :mod:`.engine.extension`).
Tiling that padded frame periodically, with an overlap at least the filter's
reach, gives every pixel, the outermost included, what the whole image gives
it, whatever the tile and frame sizes: a pixel's result depends only on the
padded frame within the filter's reach. The reach is measured on the filter's
own impulse response (:func:`filter_reach`): for motion blur it grows quickly
with the snr (15 px of motion: about 70 px at snr 100, 190 px at snr 1000).
"""

from __future__ import annotations

import numpy as np

from .engine import frames as _frames
from .engine.arrays import is_cupy_array
from .engine.backend import numpy_backend
from .engine.borders import Padding, check_pad, fast_length
from .engine.dispatch import resolve_backend
from .engine.extension import HarmonicExtension, default_pad
from .engine.kernels import normalize
from .engine.otf import transfer_function
from .methods.wiener import _check_reg

__all__ = ["filter_reach", "padded_frames"]

#: The impulse response's energy left outside the reach: 1e-5 (-50 dB).
REACH_TOLERANCE = 1e-5


def filter_reach(psf, snr=100.0, reg=None, tolerance: float = REACH_TOLERANCE) -> int:
    """Radius (pixels, along rows or columns) that holds all but ``tolerance``
    of the energy of the Wiener filter's impulse response.

    Parameters
    ----------
    psf : (k_r, k_c) array_like
    snr : float
    reg : None, "laplacian" or (k_r, k_c) array_like
        As in :func:`gpudeconv.wiener`.
    tolerance : float
        Fraction of the impulse response's energy allowed outside.

    Examples
    --------
    >>> from gpudeconv import psf
    >>> filter_reach(psf.motion(15, 30), snr=100) < filter_reach(psf.motion(15, 30), snr=1000)
    True
    """
    psf = normalize(psf)
    reg = _check_reg(reg)
    size = fast_length(max(512, 16 * max(psf.shape)))
    while True:
        backend = numpy_backend()
        h = transfer_function(backend, psf, (size, size))
        r = 1.0 if reg is None else np.abs(transfer_function(backend, reg, (size, size))) ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.nan_to_num(np.conj(h) / (np.abs(h) ** 2 + r / snr))
        energy = np.fft.fftshift(np.fft.irfft2(w, (size, size)) ** 2)
        centre = size // 2
        distance = np.abs(np.arange(size) - centre)
        ring = np.maximum(distance[:, None], distance[None, :])
        per_radius = np.bincount(ring.ravel(), energy.ravel())
        outside = 1 - np.cumsum(per_radius) / per_radius.sum()
        radius = int(np.argmax(outside <= tolerance))
        # Measured on a grid wide enough that the response does not wrap.
        if radius < size // 4 or size >= 4096:
            return max(radius, max(psf.shape))
        size = fast_length(2 * size)


def padded_frames(image, psf, spatial, work, pad=None):
    """The frames of a dask ``image`` extended harmonically, as the whole
    image's filter would see them: a dask array with the spatial axes last
    (..., padded rows, padded cols) in the float ``work`` dtype, and the
    frame's (rows, cols)."""
    import dask.array as da

    moved = da.moveaxis(image, spatial, (-2, -1)).astype(work)
    shape = moved.shape[-2:]
    psf = normalize(psf)
    padded = Padding.reflect(shape, psf.shape, default_pad(psf.shape, check_pad(pad))).padded
    batch_chunks = moved.chunks[:-2]
    rows = da.stack([moved[..., shape[0] - 1, :], moved[..., 0, :]], axis=-2)
    columns = da.stack([moved[..., :, shape[1] - 1], moved[..., :, 0]], axis=-1)
    rows = rows.rechunk(batch_chunks + (2, shape[1]))
    columns = columns.rechunk(batch_chunks + (shape[0], 2))

    def band(which):
        def compute(row_edges, column_edges):
            backend = resolve_backend("cupy" if is_cupy_array(row_edges) else "numpy", row_edges)
            with backend.context():
                extension = HarmonicExtension(backend, shape, padded, np.dtype(work), psf=psf)
                return extension.bands(backend, row_edges, column_edges)[which]

        return compute

    parts = moved
    # The band below the frame (its columns), then the one beside the frame
    # and that band (every padded row).
    bands = ((padded[0] - shape[0], shape[1]), (padded[0], padded[1] - shape[1]))
    for which, band_shape in enumerate(bands):
        if band_shape[which] > 0:
            extra = da.map_blocks(
                band(which),
                rows,
                columns,
                chunks=batch_chunks + tuple((n,) for n in band_shape),
                dtype=work,
                meta=moved._meta,
            )
            parts = da.concatenate([parts, extra], axis=which - 2)
    return parts, shape


def even_chunks(length: int, like: tuple[int, ...]) -> tuple[int, ...]:
    """``length`` split into near-equal chunks about the size of ``like``'s
    largest (the padded frame is a little longer than the frame)."""
    count = max(1, round(length / max(like)))
    base, extra = divmod(length, count)
    return tuple(base + (i < extra) for i in range(count))


def finish(block, out_dtype):
    """Round, clip and cast a float tile for ``out_dtype`` (as the engine does)."""
    xp = np
    if is_cupy_array(block):
        import cupy as xp
    block = block + _frames.rounding_offset(out_dtype)
    return _frames.cast_into(xp, block, out_dtype).astype(out_dtype)
