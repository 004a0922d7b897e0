"""The power spectrum of a blurred photo, cleaned of what is not the blur.

A blur multiplies the spectrum of the scene by ``|H|^2``; everything here
serves to see ``|H|^2`` through the scene and the artefacts of the capture:

- tiles of the photo are averaged (Welch) so that the periodogram's own
  scatter shrinks;
- each tile keeps only its periodic component (Moisan's periodic-plus-smooth
  decomposition, 2011), which removes the bright cross that the borders of a
  non-periodic tile put on the axes;
- the axes and the multiples of 1/8 cycle per pixel are masked: JPEG's 8x8
  block grid puts lines there that would read as motion at 0 or 90 degrees;
- the whitened log spectrum subtracts the mean of each ring, which removes
  the power law of natural scenes and keeps what depends on the direction;
- a second spectrum of the same tiles under a tapered window (``tapered``)
  serves the radial fits. The periodic component is continuous across the
  tile's borders but its slope is not, and those kinks leak a tail falling
  only as ``rho**-4``: a Gaussian blur's spectrum falls exponentially, so
  the leak passes for a slower fall (a smaller sigma). On Set12, sigma 4.5,
  no noise, the measured ``|H|^2`` followed the true one to 0.07 cycle/px
  with the periodic component alone and to 0.14 under a window (whose
  leak falls as ``rho**-6``). The motion fit keeps the unwindowed spectrum,
  whose sinc zeros the window's main lobe would fill.

The FFTs run on the backend (NumPy or CuPy); the averaged spectrum, small, is
brought to the host for the fits.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..engine.arrays import to_host

__all__ = ["Spectrum", "measure", "structure", "tile_shape"]

#: Longest tile side: 512 px resolves the sinc zeros of a 41 px motion
#: (12 bins apart) while keeping a 12-megapixel photo under 0.1 s of FFT.
MAX_TILE = 512
#: Tiles per side at most (2 x 2 spread over a large photo: four 512 x 512
#: periodograms average the scatter down enough for the fits).
MAX_TILES_PER_SIDE = 2
MIN_SIDE = 32
#: The share of each tile side under the taper of :attr:`Spectrum.tapered`
#: (a quarter at each end). Measured on Set12 and the colour photos (Gaussian
#: sigma 1-5, noise 0-2 and JPEG 85, ``benchmarks/psf_radial_bias.py``):
#: a full Hann window (1.0) leaves no bias at sigma 5 but weights the tile's
#: middle so much that sharp photos with a soft centre read as blurred (no
#: blur named "none" or at most 1 px: 88 % of cases against 94 %); 0.25 and
#: less leave the kinks' leak back in (sigma 5 at noise 0: -3 % at 0.25, -8 %
#: at 0.125). 0.5: -2 % at sigma 5, 94 % for no blur.
TAPER = 0.5


@dataclass(frozen=True)
class Spectrum:
    """The averaged power spectrum of a frame and what the fits need of it.

    ``power`` is on the host, unshifted (``fft2`` layout), in squared grey
    levels per pixel over the tiles' variance (``power`` is scale-free). ``contrast``
    is the tiles' standard deviation in the frame's units: 0 for a flat frame.
    ``tapered`` is normalised by the window's energy, so that white noise has
    the same level in both.
    """

    power: np.ndarray  # (R, C // 2 + 1): the half-plane of columns >= 0
    tapered: np.ndarray  # like ``power``, of the tiles under :func:`_taper`
    rows_freq: np.ndarray  # (R, 1) cycles per pixel along the rows
    cols_freq: np.ndarray  # (1, C // 2 + 1) cycles per pixel along the columns
    valid: np.ndarray  # bool, like ``power``: bins not masked
    tile: tuple[int, int]  # (R, C)
    contrast: float
    tiles: int

    @property
    def step(self) -> float:
        """The coarser frequency step of the two axes, in cycles per pixel."""
        return 1.0 / min(self.tile)

    @functools.cached_property
    def radius(self) -> np.ndarray:
        return np.hypot(self.rows_freq, self.cols_freq)

    def whitened(self) -> np.ndarray:
        """``log(power)`` minus its mean over each ring, 0 on masked bins."""
        logp = np.log(np.maximum(self.power, 1e-12))
        ring = np.rint(self.radius / self.step).astype(np.intp)
        ring[~self.valid] = 0
        weights = self.valid.astype(np.float64)
        total = np.bincount(ring.ravel(), (logp * weights).ravel())
        count = np.bincount(ring.ravel(), weights.ravel())
        mean = total / np.maximum(count, 1)
        return np.where(self.valid, logp - mean[ring], 0.0)


def tile_shape(rows: int, cols: int) -> tuple[int, int]:
    """The tile: at most :data:`MAX_TILE` a side, a multiple of 8 (JPEG)."""
    return tuple(min(MAX_TILE, n - n % 8) for n in (rows, cols))


def _starts(n: int, tile: int) -> list[int]:
    count = min(MAX_TILES_PER_SIDE, max(1, round(n / tile)))
    return sorted({int(s) for s in np.linspace(0, n - tile, count).round()})


def structure(spec: Spectrum, whitened: np.ndarray) -> float:
    """Root mean square of the whitened log spectrum smoothed over 3 x 3 bins,
    between 0.02 and 0.25 cycle/px.

    The smoothing averages the periodogram's scatter away and keeps what
    spans several bins: a blur that depends on the direction (stripes of a
    motion, irregular zeros of a camera shake). Measured on Set12: 0.5-0.95
    for no blur, Gaussian and disk blurs, 1.2-1.9 for straight motion of
    9-41 px, 0.8-1.6 for Levin's camera shakes.
    """
    from scipy import ndimage

    box = np.ones((3, 3)) / 9
    valid = spec.valid.astype(np.float64)
    total = ndimage.convolve(whitened * valid, box, mode="wrap")
    weight = ndimage.convolve(valid, box, mode="wrap")
    band = spec.valid & (spec.radius > 0.02) & (spec.radius < 0.25) & (weight > 0.5)
    if not band.any():
        return 0.0
    return float(np.sqrt(np.mean((total[band] / weight[band]) ** 2)))


def _periodic_power(be, tiles):
    """Mean over the tiles of ``|FFT|^2`` of their periodic components.

    ``tiles`` is (k, R, C) float; the smooth component's FFT is the border
    jumps' FFT over the discrete Laplacian's symbol (Moisan 2011, eq. 9).
    """
    xp = be.xp
    k, rows, cols = tiles.shape
    jumps = xp.zeros_like(tiles)
    jumps[:, 0, :] = tiles[:, -1, :] - tiles[:, 0, :]
    jumps[:, -1, :] = -jumps[:, 0, :]
    edge = tiles[:, :, -1] - tiles[:, :, 0]
    jumps[:, :, 0] += edge
    jumps[:, :, -1] -= edge
    q = xp.arange(rows).reshape(-1, 1)
    r = xp.arange(cols).reshape(1, -1)
    symbol = 2 * xp.cos(2 * np.pi * q / rows) + 2 * xp.cos(2 * np.pi * r / cols) - 4
    symbol[0, 0] = 1
    symbol = symbol[:, : cols // 2 + 1]
    spectrum = be.rfft2(tiles) - be.rfft2(jumps) / symbol
    spectrum[:, 0, 0] = 0
    power = (spectrum.real**2 + spectrum.imag**2).mean(axis=0) / (rows * cols)
    return power, _tapered_power(be, tiles)


def _taper(xp, n: int):
    """Tukey window of ``n`` points: flat in the middle half, a cosine ramp
    over each outer quarter (zero value and slope at the ends)."""
    x = xp.minimum(xp.arange(n), n - 1 - xp.arange(n)) / (n - 1)  # 0 at the ends, 0.5 mid
    ramp = x < TAPER / 2
    return xp.where(ramp, 0.5 * (1 - xp.cos(2 * np.pi * x / TAPER)), 1.0)


def _tapered_power(be, tiles):
    """Mean over the tiles of ``|FFT|^2`` under :func:`_taper` along both
    axes, each tile's windowed mean removed first (its leak would otherwise
    cover the first rings), over the window's energy."""
    xp = be.xp
    _, rows, cols = tiles.shape
    window = xp.outer(_taper(xp, rows), _taper(xp, cols)).astype(tiles.dtype)
    mean = (tiles * window).sum(axis=(1, 2), keepdims=True) / window.sum()
    spectrum = be.rfft2((tiles - mean) * window)
    return (spectrum.real**2 + spectrum.imag**2).mean(axis=0) / float((window**2).sum())


def _mask(rows: int, cols: int) -> np.ndarray:
    """False on the axes and on JPEG's lines at multiples of 1/8 cycle/px."""
    valid = np.ones((rows, cols // 2 + 1), bool)
    for n, axis in ((rows, 0), (cols, 1)):
        index = np.arange(n if axis == 0 else cols // 2 + 1)
        freq = np.minimum(index, n - index)  # bins from 0
        near = np.zeros(len(index), bool)
        for k in range(0, 5):
            near |= np.abs(freq - k * n / 8) <= 1.0
        if axis == 0:
            valid[near, :] = False
        else:
            valid[:, near] = False
    return valid


def measure(be, frame, to_grey=None) -> Spectrum:
    """The spectrum of one frame (..., rows, cols), any real dtype.

    ``frame`` may be a NumPy or CuPy array; tiles are cut where it lives,
    ``to_grey`` turns each (..., tr, tc) tile into a (tr, tc) float array on
    ``be`` (default: the tile itself), and the FFTs run on ``be``. Only the
    tiles are ever converted, so a 12-megapixel colour photo costs no more
    than its nine tiles.
    """
    if to_grey is None:

        def to_grey(tile):
            return be.asarray(tile).astype(np.float64)

    rows, cols = frame.shape[-2:]
    tr, tc = tile_shape(rows, cols)
    starts = [(r, c) for r in _starts(rows, tr) for c in _starts(cols, tc)]
    xp = be.xp
    with be.context():
        tiles = xp.stack([to_grey(frame[..., r : r + tr, c : c + tc]) for r, c in starts])
        tiles = tiles.astype(np.float32)  # ample for a power spectrum, twice as fast
        tiles -= tiles.mean()
        contrast = float(xp.sqrt(xp.mean(tiles**2)))
        if contrast > 0:
            tiles /= contrast
        power, tapered = (to_host(p).astype(np.float64) for p in _periodic_power(be, tiles))
    return Spectrum(
        power=power,
        tapered=tapered,
        rows_freq=np.fft.fftfreq(tr).reshape(-1, 1),
        cols_freq=np.fft.rfftfreq(tc).reshape(1, -1),
        valid=_mask(tr, tc),
        contrast=contrast,
        tiles=len(starts),
        tile=(tr, tc),
    )
