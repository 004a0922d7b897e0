"""Linear motion: the direction and spacing of the sinc stripes.

A straight motion of length L at angle t multiplies the spectrum by
``sinc^2(L u)`` with ``u`` the frequency along the motion: dark parallel
stripes across it, ``1/L`` apart. On the whitened log spectrum:

1. the angle: the projection of the spectrum along the stripes varies most
   at the right angle. By the Fourier slice theorem that variance is the
   energy of the spectrum's own Fourier transform (the cepstrum) along the
   line at that angle, so one FFT scores every angle at once;
2. angle and length together: around the best angles, the projection is
   correlated with ``log(sinc^2(L u) + eps)`` over a grid of lengths, both
   with their smooth trend removed (the scene's, the noise floor's); the best
   correlation gives the length and refines the angle.

The correlation is the confidence's raw material: a curved camera shake
leaves stripes that are neither straight nor evenly spaced and correlates
poorly with any single sinc.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .spectrum import Spectrum

__all__ = ["MotionFit", "fit_motion"]

#: Noise floors tried for the sinc model, relative to the passband.
FLOORS = (1e-3, 1e-2, 5e-2)
MIN_LENGTH = 4.0
#: Sinc zeros must be at least this many frequency bins apart to be told apart.
MIN_ZERO_SPACING = 5.0
TREND_DEGREE = 3
#: Relative step of the length grid (then refined in 0.05 px steps).
LENGTH_STEP = 0.01
COARSE_STEP = 2.0
COARSE_POINTS = 20000
#: Frequency across the motion (cycles/px) that splits the spectrum in two
#: for :attr:`MotionFit.straightness`.
STRAIGHT_SPLIT = 0.1


@dataclass(frozen=True)
class MotionFit:
    length: float
    angle: float  # degrees in [0, 180), the convention of gpudeconv.psf.motion
    score: float  # correlation of the projection with the sinc model, in [-1, 1]
    anisotropy: float  # cepstral energy at the best angle over the median angle
    depth: float  # regression of the stripes on the model: about 1 for motion
    rms: float  # root mean square of the detrended profile, nepers
    #: The lesser correlation of the two halves of the spectrum split at
    #: STRAIGHT_SPLIT across the motion, each with the fitted sinc: a straight
    #: line's stripes are the same all along, a camera shake's are not.
    straightness: float = 1.0


def angle_energy(spec: Spectrum, whitened: np.ndarray, step: float = 0.5):
    """Energy of the cepstrum along each direction: (angles in degrees, energy)."""
    rows, cols = spec.tile
    cepstrum = np.fft.fftshift(np.fft.irfft2(whitened, s=(rows, cols)) ** 2)
    angles = np.arange(0.0, 180.0, step)
    radii = np.arange(2.0, min(rows, cols) / 2 - 1)
    theta = np.deg2rad(angles)[:, None]
    # Motion at angle t runs along (cos t, -sin t) in (column, row) on screen.
    r_idx = rows // 2 - radii[None, :] * np.sin(theta)
    c_idx = cols // 2 + radii[None, :] * np.cos(theta)
    samples = ndimage.map_coordinates(cepstrum, [r_idx, c_idx], order=1, mode="wrap")
    return angles, samples.sum(axis=1)


def _candidates(angles, energy, count=3) -> list[float]:
    """The ``count`` highest local maxima of a circular energy curve."""
    peaks = (energy >= np.roll(energy, 1)) & (energy >= np.roll(energy, -1))
    order = np.argsort(energy[peaks])[::-1][:count]
    return [float(a) for a in angles[peaks][order]]


class _Profiles:
    """Mean whitened log power against ``|u|``, the frequency along an angle,
    in bins of :attr:`Spectrum.step` from 1 to 0.5 cycle/px."""

    def __init__(self, spec: Spectrum, whitened: np.ndarray, points: int | None = None):
        keep = spec.valid & (spec.radius <= 0.5)
        self.rows = np.broadcast_to(spec.rows_freq, keep.shape)[keep] / spec.step
        self.cols = np.broadcast_to(spec.cols_freq, keep.shape)[keep] / spec.step
        self.values = whitened[keep]
        self.nbins = int(round(0.5 / spec.step))
        if points is not None and points < len(self.values):
            # A fixed random subset: a scan of every angle needs no more.
            pick = np.random.default_rng(0).choice(len(self.values), points, replace=False)
            self.rows, self.cols, self.values = self.rows[pick], self.cols[pick], self.values[pick]

    def __call__(self, angle: float, across: tuple[float, float] | None = None) -> np.ndarray:
        """The profile at ``angle``; ``across``: only the bins whose frequency
        across the motion (in bins) lies in [low, high)."""
        t = np.deg2rad(angle)
        u = np.abs(self.cols * np.cos(t) - self.rows * np.sin(t))
        values = self.values
        if across is not None:
            v = np.abs(self.cols * np.sin(t) + self.rows * np.cos(t))
            keep = (v >= across[0]) & (v < across[1])
            u, values = u[keep], values[keep]
        index = np.rint(u).astype(np.intp)
        count = np.bincount(index, minlength=self.nbins + 1)[1 : self.nbins + 1]
        total = np.bincount(index, values, minlength=self.nbins + 1)[1 : self.nbins + 1]
        # Bins the mask empties (at 0 or 90 degrees, whole JPEG lines fall
        # into one bin) are read off their neighbours, not taken as zero.
        filled = count >= 0.25 * count.mean()
        if not filled.any():
            return np.zeros(self.nbins)
        centres = np.arange(self.nbins)
        mean = total[filled] / count[filled]
        return np.interp(centres, centres[filled], mean)


@functools.lru_cache(maxsize=8)
def _bank(nbins: int, max_length: float) -> _SincBank:
    u = np.arange(1, nbins + 1) / (2.0 * nbins)
    lengths = MIN_LENGTH * np.exp(np.arange(0.0, np.log(max_length / MIN_LENGTH), LENGTH_STEP))
    return _SincBank(u, lengths)


class _SincBank:
    """Detrended ``log(sinc^2(L u) + eps)`` for a grid of (L, eps), on fixed bins."""

    def __init__(self, u: np.ndarray, lengths: np.ndarray):
        self.u, self.lengths = u, lengths
        q, _ = np.linalg.qr(np.vander(u / u.max(), TREND_DEGREE + 1))
        self.q = q
        self.models = np.stack([self.model(lengths, eps) for eps in FLOORS])
        self.norms = np.linalg.norm(self.models, axis=-1)

    def model(self, lengths, eps):
        """(lengths, bins) detrended models."""
        return self.detrend(np.log(np.sinc(lengths[:, None] * self.u[None, :]) ** 2 + eps))

    def detrend(self, values):
        return values - (values @ self.q) @ self.q.T

    def correlate(self, values: np.ndarray, quick: bool = False) -> tuple[float, float]:
        """Best (correlation, length) for the profile ``values``; ``quick``:
        one noise floor and every other length."""
        data = self.detrend(values)
        norm = np.linalg.norm(data)
        if norm == 0:
            return 0.0, float(self.lengths[0])
        if quick:
            models, norms = self.models[1:2, ::2], self.norms[1:2, ::2]
            corr = (models @ data) / (norms * norm + 1e-300)
            best = np.unravel_index(np.argmax(corr), corr.shape)
            return float(corr[best]), float(self.lengths[::2][best[1]])
        corr = (self.models @ data) / (self.norms * norm + 1e-300)
        best = np.unravel_index(np.argmax(corr), corr.shape)
        return float(corr[best]), float(self.lengths[best[1]])

    def score_at(self, values: np.ndarray, length: float) -> float:
        """The best correlation over the noise floors at a fixed length."""
        data = self.detrend(values)
        models = np.stack([self.model(np.array([length]), eps)[0] for eps in FLOORS])
        norms = np.linalg.norm(models, axis=-1) * np.linalg.norm(data) + 1e-300
        return float(np.max(models @ data / norms))

    def refine(self, values: np.ndarray, length: float) -> tuple[float, float, float]:
        """(length, depth, rms) at the best length within 2 % of ``length`` in
        0.05 px steps: ``depth`` is the profile's regression on that model
        (1 when the stripes are as deep as the model's), ``rms`` the detrended
        profile's root mean square in nepers."""
        lengths = np.arange(length * 0.98, length * 1.02 + 0.05, 0.05)
        data = self.detrend(values)
        best = (-np.inf, length, 0.0)
        for eps in FLOORS:
            models = self.model(lengths, eps)
            norms = np.linalg.norm(models, axis=-1) + 1e-300
            dots = models @ data
            i = int(np.argmax(dots / norms))
            score = float(dots[i] / norms[i])
            best = max(best, (score, float(lengths[i]), float(dots[i] / norms[i] ** 2)))
        rms = float(np.linalg.norm(data) / np.sqrt(len(data)))
        return best[1], float(best[2]), rms


def fit_motion(spec: Spectrum, whitened: np.ndarray | None = None) -> MotionFit:
    """The straight motion that best explains the stripes of ``spec``."""
    if whitened is None:
        whitened = spec.whitened()
    angles, energy = angle_energy(spec, whitened)
    anisotropy = float(energy.max() / max(np.median(energy), 1e-300))
    profiles = _Profiles(spec, whitened)
    max_length = max(min(spec.tile) / MIN_ZERO_SPACING, 2 * MIN_LENGTH)
    bank = _bank(profiles.nbins, round(max_length, 1))

    # Coarse: every COARSE_STEP degrees, plus the cepstrum's peaks (exact
    # angles between the steps); then finer around the three best.
    sampled = _Profiles(spec, whitened, points=COARSE_POINTS)
    coarse = [
        (*bank.correlate(sampled(angle), quick=True), angle)
        for angle in [*np.arange(0.0, 180.0, COARSE_STEP), *_candidates(angles, energy)]
    ]
    best = (-np.inf, MIN_LENGTH, 0.0)
    for _, _, start in sorted(coarse, reverse=True)[:2]:
        for angle in start + np.arange(-1.5, 1.51, 0.5):
            best = max(best, (*bank.correlate(profiles(angle)), angle))
    for angle in best[2] + np.array([-0.3, -0.15, 0.15, 0.3]):
        best = max(best, (*bank.correlate(profiles(angle)), angle))
    corr, length, angle = best
    length, depth, rms = bank.refine(profiles(angle), length)
    cut = STRAIGHT_SPLIT / spec.step
    straightness = min(
        bank.score_at(profiles(angle, across), length) for across in ((0.0, cut), (cut, np.inf))
    )
    return MotionFit(
        length=length,
        angle=float(angle % 180.0),
        score=corr,
        anisotropy=anisotropy,
        depth=depth,
        rms=rms,
        straightness=straightness,
    )
