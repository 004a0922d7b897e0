r"""Wiener deconvolution with the scene outside the frame unknown.

The camera saw light from outside the frame: its edge pixels mix the frame's
scene with the scene beyond it. Treating that scene as unknown, the restored
scene ``x`` on the padded frame minimises

.. math:: \| M (h * x) - y \|^2 + \frac{1}{\mathrm{snr}} \| r * x \|^2

with ``M`` keeping the observed frame's pixels only (Reeves 2005; Almeida and
Figueiredo 2013). Its normal equations reduce to an extension ``e`` of the
observation into the padding: if ``z`` is ``y`` on the frame and ``e``
outside, the solution is the ordinary (circulant) Wiener filter ``W`` applied
to ``z``, provided that ``e`` equals the re-blurred restoration outside the
frame, ``e = S G z`` with ``G = H W = |H|^2 / (|H|^2 + |R|^2 / snr)`` and
``S`` the padding's mask. That is the symmetric positive definite system

.. math:: (I - S G S)\, e = S G M y

in the padding's pixels only (for ``y`` less its mean, which is then
filtered as the plain Wiener filter does: regularising deviations from the
frame's mean keeps constant frames constant), solved here by conjugate gradients started from
the harmonic extension (:mod:`gpudeconv.engine.extension`), which already has
the slowly varying part of ``e`` right; the circulant Wiener filter is then
the exact solver of the rest (``e`` is its input), so each iteration costs one
real FFT pair of the padded frame, batched over frames.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..engine.otf import transfer_function

__all__ = ["ITERATIONS", "check_iterations", "plan_unknown", "restore_unknown"]

#: Conjugate-gradient iterations: measured on 720p photographs with 21-31 px
#: motion (``benchmarks/borders.py``), within 0.2 dB of convergence with the
#: Laplacian regulariser; with ``reg=None`` the early iterations are as good.
ITERATIONS = 40
#: Stop early once every frame's residual has fallen by this factor.
TOLERANCE = 1e-4


def check_iterations(iterations) -> int:
    if isinstance(iterations, bool) or not isinstance(iterations, numbers.Integral):
        raise TypeError(f"iterations must be an integer, got {iterations!r}")
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0, got {iterations!r}")
    return int(iterations)


def plan_unknown(backend, plan, psf) -> None:
    """Cache ``H`` times the plan's Wiener filter (``G``, real) for the solver."""
    padded = plan.padding.padded
    h = transfer_function(backend, psf, padded).astype(plan.transfer.dtype)
    reblur = (h * plan.transfer).real
    plan.extra["reblur"] = reblur
    # p . G p by Parseval from the half spectrum: columns 1 .. N/2 - 1 of a
    # real FFT stand for two frequencies each; divided by the pixel count.
    columns = np.arange(reblur.shape[-1])
    twice = (columns > 0) & (2 * columns != padded[1])
    weight = np.where(twice, 2.0, 1.0) / (padded[0] * padded[1])
    plan.extra["reblur_parseval"] = reblur * backend.xp.asarray(weight, dtype=reblur.dtype)


def _band(a, rows, cols):
    """``a`` with the frame's pixels zeroed, in place (the padding's mask)."""
    a[..., :rows, :cols] = 0
    return a


def restore_unknown(backend, plan, buffer, iterations: int, offset: float = 0.0):
    """Restore frames whose harmonic extension is ``buffer`` (..., padded rows,
    padded cols; consumed); returns the cropped float result plus ``offset``."""
    xp = backend.xp
    padded = plan.padding.padded
    rows, cols = plan.padding.shape
    reblur = plan.extra["reblur"]

    def dot(a, b):
        # Over the padding only: the vectors are zero on the frame.
        below = (a[..., rows:, :] * b[..., rows:, :]).sum(axis=(-2, -1), keepdims=True)
        beside = (a[..., :rows, cols:] * b[..., :rows, cols:]).sum(axis=(-2, -1), keepdims=True)
        return below + beside

    # Deviations from each frame's mean are what is regularised: with R = 1 a
    # constant frame then stays constant (as in the plain Wiener filter),
    # instead of the unseen scene being pulled towards black.
    mean = buffer[..., :rows, :cols].mean(axis=(-2, -1), keepdims=True)
    spectrum = backend.rfft2(buffer)
    spectrum[..., 0, 0] -= mean[..., 0, 0] * (padded[0] * padded[1])
    # The residual of the system: S G z - e (zero on the frame).
    residual = _band(backend.irfft2(spectrum * reblur, padded), rows, cols)
    below = (Ellipsis, slice(rows, None), slice(None))
    beside = (Ellipsis, slice(None, rows), slice(cols, None))
    for part in (below, beside):
        residual[part] -= buffer[part]
        residual[part] += mean
    del buffer
    direction = residual
    power = dot(residual, residual)
    stop = float(xp.max(power)) * TOLERANCE**2 if iterations > 5 else 0.0
    for i in range(iterations):
        if i % 5 == 4 and float(xp.max(power)) <= stop:  # a host sync every 5 only
            break
        direction_spectrum = backend.rfft2(direction)
        # p . (I - S G S) p = p . p - p . G p, the latter by Parseval: the last
        # step needs no inverse transform.
        magnitude = direction_spectrum.real**2 + direction_spectrum.imag**2
        magnitude *= plan.extra["reblur_parseval"]
        curvature = dot(direction, direction) - magnitude.sum(axis=(-2, -1), keepdims=True)
        step = xp.where(curvature > 0, power / xp.where(curvature > 0, curvature, 1), 0)
        spectrum += step * direction_spectrum
        if i == iterations - 1:
            break  # the last step needs no new direction
        product = direction - _band(backend.irfft2(direction_spectrum * reblur, padded), rows, cols)
        residual = residual - step * product
        new_power = dot(residual, residual)
        ratio = xp.where(power > 0, new_power / xp.where(power > 0, power, 1), 0)
        direction = residual + ratio * direction
        power = new_power
    spectrum[..., 0, 0] += mean[..., 0, 0] * (padded[0] * padded[1])
    spectrum *= plan.transfer
    if offset:
        spectrum[..., 0, 0] += offset * padded[0] * padded[1]
    return backend.irfft2(spectrum, padded)[..., :rows, :cols]
