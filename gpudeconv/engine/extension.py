"""The harmonic border: a smooth periodic extension of the frame into the padding.

The FFT sees the padded frame as periodic. Mirroring the frame into the
padding (``"reflect"``) copies its texture with the blur mirrored too: a
30-degree motion blur becomes a -30-degree one in the padding, which the
filter cannot undo, so it rings along the frame's edges. The harmonic
extension instead fills the padding with the smooth function that takes the
frame's edge values at the frame's edges (and, periodically, the opposite
edge's at the far end of the padding) and solves Laplace's equation in
between: each spatial frequency along the edge decays away from it as
``exp(-omega * t)``, so the padding holds the edge's coarse shading and none
of its texture. Measured on 720p photographs blurred from a larger scene
(``benchmarks/borders.py``) it gains 1-3 dB over mirroring for the cost of a
few FFTs of the padding band.

The padding is filled in two strips, each solved exactly per frequency:

1. the rows after the frame, under its columns: boundary values the last and
   the first row; along the row a cosine series (even extension, so the
   strip's ends need no periodicity);
2. the columns after the frame, along all padded rows (which are periodic
   after step 1): boundary values the last and the first column; a Fourier
   series along the column.
"""

from __future__ import annotations

import numpy as np

from .directional import ELONGATION, directional_tables, principal_axis

__all__ = ["HarmonicExtension", "default_pad", "harmonic_weights"]


def default_pad(psf_shape, pad=None):
    """Padding per side of the harmonic border: ``pad`` when asked for, else
    twice the PSF's extent. Measured on 720p photographs
    (``benchmarks/borders.py``, motion 15-41 px and a camera shake): +0.2 dB
    over one extent, for about 1.1-1.2x the FFT's area; three extents add
    0.05 dB more."""
    if pad is not None:
        return pad
    return 2 * int(psf_shape[0]), 2 * int(psf_shape[1])


def harmonic_weights(gap: int, omega: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weights of the two boundary values across a strip ``gap`` pixels wide.

    For a spatial frequency ``omega`` along the edge, the harmonic function
    equal to ``a`` at ``t = 0`` and ``b`` at ``t = gap`` is
    ``a * sinh(omega (gap - t)) / sinh(omega gap) + b * sinh(omega t) / sinh(omega gap)``
    (linear at ``omega = 0``). Returns the two weights, each
    ``(gap - 1, omega.size)``, for ``t = 1 .. gap - 1``, written with
    decaying exponentials so that they never overflow.
    """
    t = np.arange(1, gap, dtype=np.float64)[:, None]
    w = np.asarray(omega, dtype=np.float64)[None, :]
    flat = w == 0
    w = np.where(flat, 1.0, w)
    scale = -np.expm1(-2 * w * gap)
    near = (np.exp(-w * t) - np.exp(-w * (2 * gap - t))) / scale
    far = (np.exp(-w * (gap - t)) - np.exp(-w * (gap + t))) / scale
    near = np.where(flat, 1 - t / gap, near)
    far = np.where(flat, t / gap, far)
    return near, far


class HarmonicExtension:
    """Fills padded buffers with the harmonic extension of frames of ``shape``.

    The tables (two strips' weights) are made once, on ``backend``, in the
    work dtype; :meth:`fill` then costs a few 1-D FFTs of the padding strips.
    With a ``psf`` that is a motion blur (:mod:`.directional`), the frame's
    edges are also carried along the motion into the padding, cross-faded
    into the harmonic extension: two gathers of the edges more.
    Safe to share across threads: it holds only read-only tables.
    """

    def __init__(self, backend, shape, padded, dtype, psf=None):
        self.shape = tuple(shape)
        self.padded = tuple(padded)
        rows, cols = self.shape
        xp = backend.xp
        self.directional = None
        if psf is not None:
            direction, elongation = principal_axis(psf)
            if elongation >= ELONGATION:
                tables = directional_tables(
                    self.shape, self.padded, tuple(round(float(v), 12) for v in direction)
                )
                self.directional = []
                for first, second, fraction, weight in tables.bands:
                    weights = (weight * (1 - fraction), weight * fraction, 1 - weight)
                    self.directional.append(
                        (xp.asarray(first), xp.asarray(second))
                        + tuple(xp.asarray(w, dtype=dtype) for w in weights)
                    )
        self.tables = []
        # Strip 1: cosine series of length `cols` (even extension to 2 cols).
        # Strip 2: Fourier series over the padded rows.
        for gap, omega in (
            (self.padded[0] - rows + 1, np.pi * np.arange(cols + 1) / cols),
            (self.padded[1] - cols + 1, 2 * np.pi * np.arange(padded[0] // 2 + 1) / padded[0]),
        ):
            if gap > 1:
                near, far = harmonic_weights(gap, omega)
                self.tables.append((xp.asarray(near, dtype=dtype), xp.asarray(far, dtype=dtype)))
            else:
                self.tables.append(None)

    def fill(self, backend, frames, buffer) -> None:
        """Write ``frames`` (..., rows, cols) and their extension into
        ``buffer`` (..., padded rows, padded cols), converting the dtype."""
        rows, cols = self.shape
        buffer[..., :rows, :cols] = frames
        inside = buffer[..., :rows, :cols]
        below, right = self.bands(
            backend, inside[..., [rows - 1, 0], :], inside[..., [cols - 1, 0]]
        )
        if below is not None:
            buffer[..., rows:, :cols] = below
        if right is not None:
            buffer[..., cols:] = right

    def bands(self, backend, row_edges, column_edges):
        """The extension from the frames' edges alone: ``row_edges``
        (..., 2, cols) holds the last and the first row, ``column_edges``
        (..., rows, 2) the last and the first column (float). Returns the
        band below the frame (..., padded rows - rows, cols) and the band to
        its right (..., padded rows, padded cols - cols); None where empty."""
        # Non-finite or huge pixels are reported after the FFT, by the caller.
        with np.errstate(invalid="ignore", over="ignore"):
            return self._bands(backend, row_edges, column_edges)

    def _bands(self, backend, row_edges, column_edges):
        xp, fft = backend.xp, backend.fft
        rows, cols = self.shape
        below = right = None
        if self.directional is not None:
            edges = xp.concatenate(
                [row_edges[..., 0, :], row_edges[..., 1, :]]
                + [column_edges[..., :, 0], column_edges[..., :, 1]],
                axis=-1,
            )
        if self.tables[0] is not None:
            near, far = self.tables[0]
            even = xp.concatenate([row_edges, row_edges[..., ::-1]], axis=-1)
            spectra = fft.rfft(even, axis=-1)
            strip = spectra[..., :1, :] * near + spectra[..., 1:, :] * far
            below = fft.irfft(strip, 2 * cols, axis=-1)[..., :cols]
            column_edges = xp.concatenate([column_edges, below[..., [cols - 1, 0]]], axis=-2)
        if self.tables[1] is not None:
            near, far = self.tables[1]
            spectra = fft.rfft(xp.swapaxes(column_edges, -1, -2), axis=-1)
            strip = spectra[..., :1, :] * near + spectra[..., 1:, :] * far
            right = xp.swapaxes(fft.irfft(strip, self.padded[0], axis=-1), -1, -2)
        if self.directional is not None:
            below, right = (
                None if band is None else _cross_fade(xp, edges, band, tables)
                for band, tables in zip((below, right), self.directional, strict=True)
            )
        return below, right


def _cross_fade(xp, edges, harmonic, tables):
    """``harmonic`` moved towards the edges carried along the motion:
    ``keep * harmonic + w_first * edges[first] + w_second * edges[second]``."""
    first, second, w_first, w_second, keep = tables
    # The band beside the frame comes transposed from its FFT: in the
    # tables' layout, every product below runs over contiguous memory.
    harmonic = xp.ascontiguousarray(harmonic)
    harmonic *= keep
    carried = xp.take(edges, first, axis=-1)
    carried *= w_first
    harmonic += carried
    carried = xp.take(edges, second, axis=-1)
    carried *= w_second
    harmonic += carried
    return harmonic
