"""The frame's edges carried along the blur: the padding of a motion blur.

A motion-blurred frame varies slowly along the motion: each pixel is an
average of the scene along a line. Continuing the frame's edge pixels into
the padding along that line (each padding pixel takes the value of the edge
point the line through it meets first) gives a padding that is itself
unchanged by the blur, so the filter, which divides by the blur's spectrum,
leaves it alone instead of ringing. The harmonic extension instead
continues the edge's texture in every direction, which for a long blur at
an angle is not what the camera saw.

The continuation is cross-faded into the harmonic extension (raised cosine,
from the frame's edge to the middle of the padding), which joins the
opposite edges smoothly, as the periodic FFT needs. Measured on 720p
photographs blurred from a larger scene (``benchmarks/borders.py``): with
twice the PSF's extent of padding, +0.4 dB over the harmonic extension alone
on average for motion of 15-41 px (up to +1.2 dB for 41 px at 75 degrees),
and nothing for compact camera-shake kernels, which therefore keep the
harmonic extension (:data:`ELONGATION`).

Every padding pixel is a mix of two adjacent pixels of the same edge, so the
continuation depends on the frame's four edges alone, like the harmonic
extension: the tables below index the edges, listed as the last row, the
first row, the last column and the first column.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["ELONGATION", "DirectionalTables", "directional_tables", "principal_axis"]

#: PSFs whose second moments are at least this elongated (standard deviation
#: along the principal axis over the one across it) count as motion: a
#: line of 9 px at 30 or 45 degrees measures 6.2-6.5 (along a row or a column,
#: infinite), Levin et al.'s eight camera shakes 1.4-5.0.
ELONGATION = 6.0


def principal_axis(psf) -> tuple[np.ndarray, float]:
    """Unit vector (rows, columns) of the PSF's longest axis, and its
    elongation (ratio of the standard deviations along and across it)."""
    psf = np.asarray(psf, dtype=np.float64)
    weights = psf / psf.sum()
    r, c = np.indices(psf.shape, dtype=np.float64)
    mr, mc = (weights * r).sum(), (weights * c).sum()
    dr, dc = r - mr, c - mc
    moments = np.array(
        [
            [(weights * dr * dr).sum(), (weights * dr * dc).sum()],
            [(weights * dr * dc).sum(), (weights * dc * dc).sum()],
        ]
    )
    values, vectors = np.linalg.eigh(moments)
    if values[1] <= 1e-12:  # a single pixel: no axis at all
        return vectors[:, 1], 1.0
    if values[0] <= 1e-12:  # a line along a row or a column
        return vectors[:, 1], np.inf
    return vectors[:, 1], float(np.sqrt(values[1] / values[0]))


def _signed(n: int, padded: int) -> np.ndarray:
    """Positions along a padded axis as coordinates around the frame: the
    first half of the padding continues past the far edge, the second half
    (periodically) comes before the near edge."""
    index = np.arange(padded, dtype=np.float64)
    return np.where(index < n + (padded - n) // 2, index, index - padded)


def _entry(p, d, last):
    """Interval of ``t`` where ``p + t d`` lies in [0, last]."""
    if d == 0:
        inside = (p >= 0) & (p <= last)
        return np.where(inside, -np.inf, np.inf), np.where(inside, np.inf, -np.inf)
    t1, t2 = -p / d, (last - p) / d
    return np.minimum(t1, t2), np.maximum(t1, t2)


class DirectionalTables:
    """For each pixel of the two padding bands (below the frame, under its
    columns; beside it, along every padded row): two edge indices, the weight
    of the second, and the continuation's weight against the harmonic
    extension. ``bands`` holds one ``(first, second, fraction, weight)`` per
    band, host arrays of the band's shape (read-only, shared: see
    :func:`directional_tables`).
    """

    def __init__(self, shape, padded, direction):
        rows, cols = shape
        signed_r, signed_c = _signed(rows, padded[0]), _signed(cols, padded[1])
        half = max(min(padded[0] - rows, padded[1] - cols) / 2, 1.0)
        self.bands = tuple(
            _band_tables(r, c, shape, direction, half)
            for r, c in (
                (signed_r[rows:], signed_c[:cols]),
                (signed_r, signed_c[cols:]),
            )
        )


@functools.lru_cache(maxsize=16)
def directional_tables(shape, padded, direction) -> DirectionalTables:
    """:class:`DirectionalTables`, kept for the last few geometries: the
    function API plans afresh on every call, and the tables cost about as
    much as one filtering of the frame to make."""
    tables = DirectionalTables(shape, padded, direction)
    for band in tables.bands:
        for array in band:
            array.flags.writeable = False
    return tables


def _band_tables(r, c, shape, direction, half):
    rows, cols = shape
    dr, dc = (float(v) for v in direction)
    r, c = np.broadcast_arrays(r[:, None], c[None, :])
    r_lo, r_hi = _entry(r, dr, rows - 1)
    c_lo, c_hi = _entry(c, dc, cols - 1)
    lo, hi = np.maximum(r_lo, c_lo), np.minimum(r_hi, c_hi)
    hits = lo <= hi
    # The nearer of the two points where the line enters the frame.
    t = np.where(hits, np.where(np.abs(lo) < np.abs(hi), lo, hi), 0.0)
    # Lines that miss the frame take its nearest point instead.
    er = np.clip(np.where(hits, r + t * dr, r), 0, rows - 1)
    ec = np.clip(np.where(hits, c + t * dc, c), 0, cols - 1)
    first, second, fraction = _edge_samples(er, ec, rows, cols)
    # Cross-fade: 1 at the frame's edge, 0 from the middle of the padding.
    outside = np.maximum(np.maximum(-r, r - (rows - 1)), np.maximum(-c, c - (cols - 1)))
    ramp = np.clip(1 - outside / half, 0, 1)
    weight = 0.5 - 0.5 * np.cos(np.pi * ramp)
    return first, second, fraction, weight


def _edge_samples(er, ec, rows, cols):
    """Edge points (on the frame's boundary) as two adjacent edge indices and
    the weight of the second; edges listed as last row, first row, last
    column, first column."""
    tol = 1e-6
    on_last_row = er >= rows - 1 - tol
    on_first_row = ~on_last_row & (er <= tol)
    on_last_col = ~on_last_row & ~on_first_row & (ec >= cols - 1 - tol)
    along = np.where(on_last_row | on_first_row, ec, er)
    length = np.where(on_last_row | on_first_row, cols, rows)
    offset = np.select(
        [on_last_row, on_first_row, on_last_col], [0, cols, 2 * cols], 2 * cols + rows
    )
    low = np.minimum(np.floor(along), length - 1)
    fraction = along - low
    high = np.minimum(low + 1, length - 1)
    return (offset + low).astype(np.intp), (offset + high).astype(np.intp), fraction
