"""Deconvolution with a sparse-gradient (total variation) prior.

Solves, for each frame,

    minimise  (lambda / 2) * || m . (h * x) - y ||^2  +  || D_r x ||_1 + || D_c x ||_1

by half-quadratic splitting (Krishnan and Fergus, 2009): auxiliary variables
for the gradients (soft-thresholded) and for the blurred image (so that only
the observed pixels ``m`` enter the data term, as with unknown boundaries),
with the gradient penalty's weight ``beta`` rising from 8 to 256 by 2*sqrt(2),
five passes at each value (20 in all); every pass is element-wise work and
six FFTs, batched over frames. With unknown boundaries the split's weight is
scaled so that ``lambda`` means the same as with ``border="circular"``.

Each frame is scaled to a peak of 1 first (and the result scaled back), so
the result scales with the intensities. The weight ``lambda`` is then set from
the data: ``SPARSE_SCALE * g / nu**2``, with ``nu`` the estimated noise
relative to the peak, floored (:mod:`gpudeconv.methods.parameters`), and ``g``
the mean absolute gradient of the frame.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..engine.arrays import to_host
from ..engine.otf import transfer_function
from ..engine.pipeline import FourierFilter, raise_if_not_finite
from . import parameters

__all__ = ["SparseDeconvolution", "sparse_deconvolve"]

BETA_START, BETA_STOP, BETA_RATE = 8.0, 2.0**8, 2 * math.sqrt(2)
#: Passes per value of beta. The pixels outside the frame converge slowly
#: (the split holds them to their last blur): with one pass per beta from 1,
#: the colour suite's 41-px motion lost up to 1.5 dB to the Wiener filter
#: without noise; 3 passes gained 0.8 dB there, 5 another 0.2 dB on Set12.
PASSES = 5
#: Weight of the blurred-image split against the data term: smaller lets the
#: outside move faster (the split's weight is lam * (1 + RHO)).
RHO = 0.25


def _schedule():
    """The values of beta, one per pass."""
    betas, beta = [], BETA_START
    while beta <= BETA_STOP * (1 + 1e-9):
        betas += [beta] * PASSES
        beta *= BETA_RATE
    return betas


class SparseDeconvolution(FourierFilter):
    """Total-variation deconvolution planned once for a PSF."""

    frames_of_memory = 12
    along_motion = False

    def __init__(self, psf, *, weight="auto", border: str = "harmonic", **options):
        if border not in ("reflect", "circular", "harmonic", "unknown"):
            raise ValueError(
                f"border must be 'reflect', 'circular', 'harmonic' or 'unknown', got {border!r}"
            )
        if not (
            weight == "auto"
            or (
                isinstance(weight, numbers.Real)
                and not isinstance(weight, bool)
                and math.isfinite(weight)
                and weight > 0
            )
        ):
            raise ValueError(f"weight must be 'auto' or a positive number, got {weight!r}")
        super().__init__(psf, border=border, **options)
        self.weight = weight

    @property
    def last_weight(self):
        """The data weight lambda used for each frame of this thread's last call."""
        call = self.last_call
        return None if call is None else call.results.get("weight")

    def _plan_extra(self, backend, plan, work):
        xp = backend.xp
        padded = plan.padding.padded
        h = plan.transfer
        d_col = transfer_function(backend, np.array([[0.0, -1.0, 1.0]]), padded)
        d_row = transfer_function(backend, np.array([[0.0], [-1.0], [1.0]]), padded)
        complex_dtype = h.dtype
        plan.extra.update(
            conj_h=xp.conj(h),
            h_power=(h.real**2 + h.imag**2).astype(work),
            d_col=d_col.astype(complex_dtype),
            d_row=d_row.astype(complex_dtype),
            d_power=(xp.abs(d_col) ** 2 + xp.abs(d_row) ** 2).astype(work),
        )

    def _start_call(self, batch_shape):
        self._results["weight"] = np.empty(batch_shape)

    def _data_weight(self, xp, frames):
        if self.weight != "auto":
            return xp.full(frames.shape[:-2], float(self.weight))
        return parameters.sparse_weight(xp, frames)

    def _apply(self, backend, plan, chunk, work, check_finite, offset, index=()):
        xp, e = backend.xp, plan.extra
        padding = plan.padding
        rows, cols = padding.shape
        padded = padding.padded
        observed = chunk.astype(work, copy=True)
        if check_finite:
            raise_if_not_finite(xp, observed.sum(axis=(-2, -1), keepdims=True), chunk)
        # Work on frames scaled to a peak of 1: the gradient threshold 1/beta
        # is in intensity units, and this makes the result scale with the input.
        scale = xp.maximum(xp.abs(observed).max(axis=(-2, -1), keepdims=True), 1e-30)
        observed /= scale
        lam = self._data_weight(xp, chunk)
        self._results["weight"][index] = to_host(lam)
        lam = lam.astype(work)[..., None, None]
        estimate = self._prepare(backend, plan, observed, work)
        if estimate is observed:
            estimate = observed.copy()
        x_spectrum = backend.rfft2(estimate)
        masked = padding.padded != padding.shape
        if not masked:
            data = plan.extra["conj_h"] * x_spectrum  # h^T y, fixed: y is the whole frame
        for beta in _schedule():
            grads = []
            for d in (e["d_col"], e["d_row"]):
                g = backend.irfft2(x_spectrum * d, padded)
                _soft_threshold(xp, g, 1.0 / beta)
                grads.append(backend.rfft2(g))
            numerator = beta * (xp.conj(e["d_col"]) * grads[0] + xp.conj(e["d_row"]) * grads[1])
            if masked:
                # The blurred image: the current blur outside the frame, its
                # blend with the observation inside. At the fixed point the
                # data enter with the split's weight over 1 + RHO, so that
                # weight is lam * (1 + RHO).
                blurred = backend.irfft2(x_spectrum * plan.transfer, padded)
                inside = blurred[..., :rows, :cols]
                inside *= RHO
                inside += observed
                inside /= 1 + RHO
                split = lam * (1 + RHO)
                numerator += split * (e["conj_h"] * backend.rfft2(blurred))
                denominator = split * e["h_power"] + beta * e["d_power"]
            else:
                numerator += lam * data
                denominator = lam * e["h_power"] + beta * e["d_power"]
            x_spectrum = numerator / denominator
        result = backend.irfft2(x_spectrum, padded)[..., :rows, :cols]
        result *= scale
        if offset:
            result += offset
        return result


def _soft_threshold(xp, values, threshold) -> None:
    """sign(v) * max(|v| - t, 0), in place."""
    magnitude = xp.abs(values)
    shrunk = xp.maximum(magnitude - threshold, 0)
    values *= shrunk / xp.maximum(magnitude, 1e-30)


def sparse_deconvolve(
    image,
    psf,
    *,
    weight="auto",
    border: str = "harmonic",
    channel_axis: int | None = None,
    backend: str = "auto",
    precision: str | None = None,
    max_memory: int | None = None,
    device: int | None = None,
):
    """Deconvolve with a total-variation (sparse gradient) prior.

    Parameters
    ----------
    image : (..., M, N[, C]) array
        Layout, dtype and device rules as in :func:`gpudeconv.wiener`.
    psf : (k_r, k_c) array_like
    weight : "auto" or float
        The data weight lambda, for intensities scaled to a peak of 1; "auto"
        sets it per frame from the estimated noise (see the module notes).
    border : {"harmonic", "reflect", "circular", "unknown"}, default "harmonic"
        ``"reflect"``: the estimate extends beyond the frame and only the
        observed pixels enter the data term; ``"harmonic"`` and ``"unknown"``:
        the same, started from the harmonic extension (the default: on
        noiseless 8-bit photos with 35-px motion it gains 0.3-0.8 dB over
        ``"reflect"``).

    Returns
    -------
    restored : array
        Same shape, dtype policy and device as ``image``.

    References
    ----------
    .. [1] D. Krishnan and R. Fergus, "Fast image deconvolution using
           hyper-Laplacian priors", NIPS 2009.
    .. [2] M. S. C. Almeida and M. Figueiredo, "Deconvolving images with
           unknown boundaries using the alternating direction method of
           multipliers", IEEE TIP 22 (2013).
    """
    return SparseDeconvolution(
        psf,
        weight=weight,
        border=border,
        channel_axis=channel_axis,
        backend=backend,
        precision=precision,
        max_memory=max_memory,
        device=device,
    )(image)
