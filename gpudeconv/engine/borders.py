"""Borders: fast FFT sizes, reflect padding, and MATLAB-style ``edgetaper``.

The FFT treats a frame as periodic, so the right edge wraps onto the left one;
unless the frame is extended before filtering, that seam rings across the
image. ``"reflect"`` mirrors the frame (edge pixel repeated, OpenCV's
``BORDER_REFLECT``) out to a fast FFT size and crops afterwards;
``"edgetaper"`` blends the frame's edges with a blurred copy (:func:`taper`;
the public face is :func:`gpudeconv.edgetaper`).

Padding layout: the frame sits at the top-left corner of the padded buffer;
the rows after it continue its bottom edge and, circularly, lead into its top
edge (row 0). This is a circular shift of the usual centred padding, so the
filtered result is the same, while the crop is a plain ``[:rows, :cols]``
slice.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import scipy.fft

from .kernels import normalize

__all__ = ["Padding", "check_pad", "fast_length", "taper", "taper_weights"]


def fast_length(n: int) -> int:
    """The smallest length >= ``n`` whose prime factors are 2, 3 and 5.

    Such lengths are fast for pocketfft and cuFFT alike, so the CPU and the GPU
    use the same padded shape and give the same answer.
    """
    return scipy.fft.next_fast_len(int(n), real=True)


def check_pad(pad) -> tuple[int, int] | None:
    """``pad`` as (rows, columns) of at least this many pixels per side."""
    if pad is None:
        return None
    pair = pad if isinstance(pad, (tuple, list)) else (pad, pad)
    if len(pair) != 2:
        raise ValueError(f"pad must be an integer or a pair of integers, got {pad!r}")
    for p in pair:
        if isinstance(p, bool) or not isinstance(p, numbers.Integral):
            raise TypeError(f"pad must be a non-negative integer, got {pad!r}")
        if p < 0:
            raise ValueError(f"pad must be >= 0, got {pad!r}")
    return int(pair[0]), int(pair[1])


@dataclass(frozen=True)
class Padding:
    """How a ``shape`` frame is extended to ``padded`` for the FFT.

    With ``seamless=False`` the extension is an exact mirror image (what the
    forward model :func:`gpudeconv.blur` needs). With ``seamless=True`` (what
    restoration uses) the mirror image of the bottom edge is cross-faded, with
    a raised-cosine ramp across the padding, into the mirror image of the top
    edge that continues it circularly, and likewise for the columns: the
    periodic frame the FFT sees then has no seam at all. On Set12 Peppers and
    the built-in photo with 11 motion and camera-shake kernels this gained
    0.3 dB on average over the seed thread's 50-px reflect padding, with a
    padding of only the PSF's extent (``benchmarks/padding_study.py``).
    """

    shape: tuple[int, int]
    padded: tuple[int, int]
    seamless: bool = False

    @classmethod
    def reflect(cls, shape, psf_shape, pad, *, seamless: bool = False) -> Padding:
        # Default: the PSF's extent on each side, then up to a fast length.
        pad = psf_shape if pad is None else pad
        padded = tuple(fast_length(n + 2 * p) for n, p in zip(shape, pad, strict=True))
        return cls(tuple(shape), padded, seamless)

    @classmethod
    def none(cls, shape) -> Padding:
        return cls(tuple(shape), tuple(shape))

    def sources(self, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each padded position past the frame along ``axis``: two frame
        indices and the weight of the second (0: the first alone).

        Exact mirror: the first half continues past the far edge, the rest
        (circularly) comes before the near edge. Seamless: the continuation
        past the far edge, cross-faded into the mirror of the near edge.
        """
        n, n_padded = self.shape[axis], self.padded[axis]
        extra = n_padded - n
        t = np.arange(extra)
        past_end = _mirror(n + t, n)
        before_start = _mirror(t - extra, n)
        if not self.seamless:
            first = np.where(t < (extra + 1) // 2, past_end, before_start)
            return first, first, np.zeros(extra)
        weight = 0.5 - 0.5 * np.cos(np.pi * (t + 0.5) / extra)
        return past_end, before_start, weight

    def fill(self, xp, frames, buffer) -> None:
        """Write ``frames`` (..., rows, cols) and their extension into
        ``buffer`` (..., padded rows, padded cols), converting the dtype."""
        rows, cols = self.shape
        buffer[..., :rows, :cols] = frames
        if self.padded[0] > rows:
            self._extend(xp, buffer[..., :rows, :cols], buffer[..., rows:, :cols], 0)
        if self.padded[1] > cols:
            self._extend(xp, buffer[..., :cols], buffer[..., cols:], 1)

    def _extend(self, xp, frames, dest, axis: int) -> None:
        """Fill ``dest`` (the padding after ``frames`` along ``axis``)."""
        first, second, weight = self.sources(axis)

        def along(index):
            return (Ellipsis, index, slice(None)) if axis == 0 else (Ellipsis, index)

        if not weight.any():
            for target, source in _runs(first):
                dest[along(target)] = frames[along(source)]
            return
        near = frames[along(_index(xp, first))]
        xp.subtract(frames[along(_index(xp, second))], near, out=dest)
        dest *= xp.asarray(weight[:, None] if axis == 0 else weight, dtype=dest.dtype)
        dest += near


def _runs(indices: np.ndarray) -> list[tuple[slice, slice]]:
    """Split ``indices`` into runs of consecutive indices (step +1 or -1), as
    (target, source) slice pairs: copies of views instead of gathers. Padding
    narrower than the frame is one run or two."""
    runs = []
    start = 0
    while start < indices.size:
        stop = start + 1
        step = int(indices[stop] - indices[start]) if stop < indices.size else 1
        if step not in (-1, 1):
            step = 1
        while stop < indices.size and indices[stop] - indices[stop - 1] == step:
            stop += 1
        end = int(indices[stop - 1]) + step
        runs.append(
            (slice(start, stop), slice(int(indices[start]), None if end < 0 else end, step))
        )
        start = stop
    return runs


def _index(xp, indices: np.ndarray):
    """A slice when ``indices`` is a single run, else an index array."""
    runs = _runs(indices)
    return runs[0][1] if len(runs) == 1 else xp.asarray(indices)


def _mirror(index: np.ndarray, n: int) -> np.ndarray:
    """Map any integer index onto ``range(n)`` by mirroring with the edge
    repeated (``...cba|abc...xyz|zyx...``), however far outside it lies."""
    folded = index % (2 * n)
    return np.where(folded < n, folded, 2 * n - 1 - folded)


def taper_weights(shape, psf) -> np.ndarray:
    """MATLAB ``edgetaper``'s blending weights for a frame of ``shape``.

    Along each axis, the circular autocorrelation of the PSF's projection onto
    that axis (normalised to a peak of 1) says how much a pixel at that
    distance from the edge mixes with the other side; the weight is the
    product over the two axes of one minus it: 0 at the edges, 1 inside.
    """
    psf = normalize(psf)
    weights = []
    for axis, n in enumerate(shape):
        projection = psf.sum(axis=1 - axis)
        if projection.size > 1 and n <= 2 * projection.size:
            raise ValueError(
                f"edgetaper needs the PSF ({psf.shape[0]}x{psf.shape[1]}) to be "
                f"smaller than half the image ({shape[0]}x{shape[1]}) on each axis"
            )
        if projection.size == 1:  # a singleton axis of the PSF tapers nothing
            weights.append(np.ones(n))
            continue
        spectrum = np.fft.rfft(projection, n - 1)
        auto = np.fft.irfft(np.abs(spectrum) ** 2, n - 1)
        auto = np.append(auto, auto[0]) / auto.max()
        weights.append(1 - auto)
    return np.outer(weights[0], weights[1])


def taper(backend, weights, blur, frames):
    """``frames`` (float, on ``backend``) blended with their circular blur near
    the edges, in place: ``alpha * I + (1 - alpha) * B`` with ``alpha`` the
    :func:`taper_weights` and ``blur`` the PSF's transfer function for the
    frame shape."""
    spectrum = backend.rfft2(frames)
    spectrum *= blur
    blurred = backend.irfft2(spectrum, frames.shape[-2:])
    # Computed as B + alpha * (I - B): no second frame-sized temporary.
    frames -= blurred
    frames *= weights
    frames += blurred
    return frames
