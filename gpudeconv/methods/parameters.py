"""Automatic parameters, per frame: Wiener's snr and the sparse prior's weight.

Both rest on one number per frame, the *effective relative noise*

    nu = sqrt((sigma / peak)**2 + FLOOR**2)

with ``sigma`` the Haar estimate of the white noise (quantisation included
for integer frames, :func:`~gpudeconv.engine.noise.haar_sigma`) and ``peak``
the frame's largest absolute value. ``FLOOR`` stands for what that estimate
cannot see and that limits a restoration just the same: the model error of
the frame's borders (the scene outside the frame is unknown), the PSF's
discretisation, compression. It keeps every choice finite as ``sigma`` goes
to zero.

Measured side by side on the colour 8-bit suite (``benchmarks/quality.py
--photos``: 5 photographs x 9 blurs x noise 0, 0.5, 1, 2 grey levels): mean
dB against the best constant snr in hindsight, worst case in brackets. The
first four rows were scored on each case's PSNR curve over 41 snr values
(1 to 1e5), the last three are the pipeline's own results.

==========================================  ==========  ==========  ==========  ==========
rule                                        noise 0     0.5         1           2
==========================================  ==========  ==========  ==========  ==========
discrepancy, 1.5 x Haar noise (previous)    -5.2 (-23)  -1.3 (-10)  -2.4 (-24)  -0.2 (-2.7)
discrepancy + quantisation + 1% floor       -1.2 (-5.0) -0.9 (-5.8) -0.4 (-3.2) -0.2 (-1.8)
GCV (exact in the Fourier domain)           -2.6 (-8.1) -3.0 (-7.8) -3.0 (-8.1) -3.3 (-8.6)
empirical Bayes (power law + white, ML-II)  -1.8 (-8.0) -1.4 (-7.3) -1.5 (-8.4) -1.8 (-11)
constant snr = 100                          -0.5 (-2.3) -0.1 (-1.5) 0.0 (0.0)   -0.4 (-2.2)
``SNR_SCALE / nu``                          -0.1 (-1.4) 0.0 (-0.5)  -0.1 (-0.7) -0.1 (-1.1)
this module: ~ nu**-1.2 (see below)        -0.1 (-1.0) +0.1 (-0.2) +0.1 (-0.6) +0.1 (-0.8)
==========================================  ==========  ==========  ==========  ==========

The last row is this module's rule. ``nu**-1`` fell 0.31 dB below the best
constant on Set12 x Levin at sigma 0.02 (``benchmarks/quality.py``, all 288
cases: -0.03 / -0.20 / -0.31 dB at sigma 0.005 / 0.01 / 0.02); ``nu**-1.2``,
as fixed at the photographs' typical nu, gives -0.03 / -0.05 / +0.05 dB there
(``nu**-1.1``: -0.03 / -0.11 / -0.08).

GCV and the discrepancy principle take the borders' model error for signal
(they pick snr 5-10x too high at low noise); the empirical-Bayes fit of a
power-law spectrum finds the noise well but its predicted risk ignores the
same model error. ``SCALE / nu`` is what the best snr follows across images,
blurs and noise levels (fitted slope -1.1 in log-log here, -1.2 with Set12 too). Everything here is
array arithmetic on the device, batched over frames: no loop over planes, no
synchronisation.
"""

from __future__ import annotations

import numpy as np

from ..engine.noise import haar_sigma

__all__ = ["relative_noise", "wiener_snr", "sparse_weight", "discrepancy_nsr"]

#: What the noise estimate cannot see, relative to the frame's peak (about
#: 0.3 grey levels of an 8-bit frame).
FLOOR = 0.0016
#: With ``border="circular"`` the borders add no model error (there the
#: discrepancy principle chooses): only a guard against a zero estimate.
CIRCULAR_FLOOR = 1e-5
#: ``snr = SNR_SCALE / nu`` at ``nu = NU_REFERENCE`` (about 0.6 grey levels
#: of an 8-bit frame), falling as ``nu**-SNR_POWER``: the scale fitted on the
#: colour suite, the power on Set12 x Levin at noise 0.005-0.02.
SNR_SCALE = 0.88
NU_REFERENCE = 0.0045
SNR_POWER = 1.2
#: The sparse prior's data weight: ``SPARSE_SCALE * g / nu**2`` with ``g`` the
#: frame's mean absolute gradient (at a peak of 1). Fitted with the hindsight
#: best weight per case (5 weights a factor 2 apart) on the colour suite's
#: sparse cases at noise 0-2 grey levels and a third of Set12 x Levin at
#: sigma 0.005-0.02: ``g**0.5`` or ``g**0`` instead of ``g``, or floors of
#: 0.0015-0.0035, changed no noise level's mean by more than 0.1 dB; the
#: floor keeps the weight finite (about 1e4 on noiseless 8-bit photos).
SPARSE_SCALE = 10.0
SPARSE_FLOOR = 0.004
#: With a regulariser other than ``R = 1``, or ``border="circular"``, the snr
#: is chosen by the discrepancy principle: the residual power equals ``DISCREPANCY * (nu *
#: peak)**2``.
DISCREPANCY = 1.5
#: Richardson-Lucy stops a frame once its residual power is below
#: ``RL_DISCREPANCY * (nu * peak)**2``: 1.0 keeps it above the blurred input on
#: every photo of the colour suite, 0.7 does not; 1.5 stops too early on Set12.
RL_DISCREPANCY = 1.0
SNR_RANGE = (1e-3, 1e8)


def relative_noise(xp, frames, floor=FLOOR):
    """``(nu, peak)`` per frame of ``frames`` (..., rows, cols), float64 arrays
    of the batch shape on ``frames``' device."""
    sigma = haar_sigma(xp, frames).astype(np.float64)
    peak = xp.abs(frames).max(axis=(-2, -1)).astype(np.float64)
    peak = xp.maximum(peak, 1e-30)
    return xp.sqrt((sigma / peak) ** 2 + floor**2), peak


def wiener_snr(xp, frames):
    """The Wiener filter's snr for each frame (``R = 1``)."""
    nu, _ = relative_noise(xp, frames)
    return xp.clip(SNR_SCALE / NU_REFERENCE * (NU_REFERENCE / nu) ** SNR_POWER, *SNR_RANGE)


def sparse_weight(xp, frames):
    """The sparse prior's data weight for each frame, for the frame scaled to a
    peak of 1."""
    nu, peak = relative_noise(xp, frames, SPARSE_FLOOR)
    work = np.result_type(frames.dtype, np.float32)
    gradient = xp.abs(xp.diff(frames.astype(work), axis=-1)).mean(axis=(-2, -1), dtype=np.float64)
    return SPARSE_SCALE * (gradient / peak) / nu**2


class Discrepancy:
    """The discrepancy principle on one padded shape's frequencies.

    The residual at balance ``nsr`` is a sum over frequencies of
    ``(nsr / (q + nsr))**2 |Y|**2`` with ``q = |H|**2 / |R|**2``: it depends on
    ``q`` alone. The frequencies are sorted by ``q`` once per shape; each
    chunk's power spectra, gathered in that order, are summed per bin of
    ``log q`` by one cumulative sum (every plane at once), and the bisection
    runs on the small per-bin sums.
    """

    BINS = 1200
    LOG_Q = (-20.0, 4.0)

    def __init__(self, xp, q, weight, n_pixels):
        q = np.asarray(q, dtype=np.float64)
        with np.errstate(divide="ignore"):
            log_q = np.log10(np.clip(q, 10.0 ** self.LOG_Q[0], 10.0 ** self.LOG_Q[1]))
        step = (self.LOG_Q[1] - self.LOG_Q[0]) / self.BINS
        bins = np.clip(np.floor((log_q - self.LOG_Q[0]) / step), 0, self.BINS - 1)
        bins[~(q < np.inf)] = self.BINS  # |R| = 0: never shrunk, left out
        bins = bins.ravel().astype(np.int64)
        order = np.argsort(bins, kind="stable")
        ends = np.searchsorted(bins[order], np.arange(self.BINS + 1))
        self.order = xp.asarray(order)
        self.ends = xp.asarray(ends)
        self.weight = xp.asarray(np.broadcast_to(weight, q.shape).ravel()[order])
        self.centres = xp.asarray(10.0 ** (self.LOG_Q[0] + (np.arange(self.BINS) + 0.5) * step))
        self.scale = 1.0 / n_pixels**2  # mean |residual|**2 = (sum of |Y|**2) / pixels**2

    def nsr(self, xp, spectrum, target):
        """Per frame, the nsr at which the mean residual power is ``target``
        (bisection in log space; the residual grows with the nsr)."""
        frames = spectrum.reshape(*spectrum.shape[:-2], -1)[..., self.order]
        power = (frames.real**2 + frames.imag**2).astype(np.float64) * self.weight
        total = xp.cumsum(power, axis=-1)
        total = xp.concatenate([xp.zeros_like(total[..., :1]), total], axis=-1)
        at = xp.take(total, self.ends, axis=-1)
        histogram = at[..., 1:] - at[..., :-1]

        def residual(nsr):
            shrink = nsr[..., None] / (self.centres + nsr[..., None])
            return (shrink * shrink * histogram).sum(axis=-1) * self.scale

        lo = xp.full(target.shape, np.log(1 / SNR_RANGE[1]))
        hi = xp.full(target.shape, np.log(1 / SNR_RANGE[0]))
        for _ in range(24):  # 24 halvings of a 25-unit log range: snr to 1e-6
            mid = 0.5 * (lo + hi)
            too_big = residual(xp.exp(mid)) > target
            hi = xp.where(too_big, mid, hi)
            lo = xp.where(too_big, lo, mid)
        return xp.exp(0.5 * (lo + hi))


def discrepancy_nsr(xp, discrepancy, spectrum, frames, border):
    """Per frame, the nsr of the discrepancy principle with the floored noise."""
    nu, peak = relative_noise(xp, frames, CIRCULAR_FLOOR if border == "circular" else FLOOR)
    return discrepancy.nsr(xp, spectrum, DISCREPANCY * (nu * peak) ** 2)
