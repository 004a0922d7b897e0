"""``snr="auto"`` on video: chosen per frame, smoothed over time.

Each frame's own choice (the discrepancy principle, see
:func:`gpudeconv.wiener`) jitters with its noise estimate: restored with it
as is, a static scene flickers in sharpness. The choices are smoothed in
log-snr by an exponential moving average, restarted at a scene cut (a
frame unlike the one before it, see :func:`scene_cuts`, or a choice more
than :data:`CUT` times away from the running value), and each frame is
restored with its smoothed value.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..engine.frames import Layout
from ..methods import parameters
from ..methods.wiener import Wiener, wiener

__all__ = ["SnrSmoother", "SmoothedAutoWiener", "scene_cuts", "thumbnails"]

#: Weight of the newest frame in the running log-snr (a time constant of
#: about 4 frames: frame-to-frame jitter shrinks about 2.6x).
ALPHA = 0.25
#: A choice this many times above or below the running value starts afresh
#: (a change of lighting or noise within a shot); the per-frame choice of a
#: static shot moves by up to 3x from frame to frame.
CUT = 10.0
#: Consecutive frames whose 16x-reduced grey pictures correlate less than
#: this are a cut: within a shot, even with fast motion, they stay above 0.8;
#: unrelated pictures are near 0.
CUT_CORRELATION = 0.5
#: Smoothed values are rounded to this step in log10 (about 2.3 %, far below
#: what one can see) so that a slowly drifting value reuses its filter.
STEP = 0.01


class SnrSmoother:
    """Exponential smoothing of per-frame snr values in log space, with a reset
    at scene cuts. Feed it frames in order; it holds the running value only.

    Examples
    --------
    >>> s = SnrSmoother()
    >>> s([100.0, 120.0, 90.0]).round(1).tolist()
    [100.0, 104.7, 100.8]
    >>> round(float(s([50.0], cuts=[True])[0]), 6)  # a new shot starts afresh
    50.0
    """

    def __init__(self, alpha: float = ALPHA, cut: float = CUT):
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
        if not cut > 1:
            raise ValueError(f"cut must be > 1, got {cut!r}")
        self.alpha, self.log_cut = alpha, np.log(cut)
        self.state = None  # running log-snr, one per channel

    def __call__(self, snr, cuts=None) -> np.ndarray:
        """Smoothed values for ``snr``: ``(frames[, channels])``, in order;
        ``cuts`` marks the frames that start a new shot."""
        snr = np.asarray(snr, dtype=np.float64)
        logs = np.log(snr.reshape(len(snr), -1))
        cuts = np.zeros(len(snr), bool) if cuts is None else np.asarray(cuts, bool)
        out = np.empty_like(logs)
        for i, value in enumerate(logs):
            if self.state is None or cuts[i]:
                self.state = value.copy()
            else:
                cut = np.abs(value - self.state) > self.log_cut
                self.state = np.where(cut, value, self.state + self.alpha * (value - self.state))
            out[i] = self.state
        return np.exp(out).reshape(snr.shape)


def thumbnails(frames: np.ndarray, channel_axis=-1, factor: int = 16) -> np.ndarray:
    """Each frame reduced ``factor`` times by block means, channels averaged:
    ``(frames, rows // factor, cols // factor)`` float64."""
    frames = np.asarray(frames)
    if frames.ndim == 4:
        frames = np.moveaxis(frames, channel_axis, -1).mean(axis=-1)
    n, rows, cols = frames.shape
    r, c = max(rows // factor, 1), max(cols // factor, 1)
    fr, fc = rows // r, cols // c
    blocks = frames[:, : r * fr, : c * fc].reshape(n, r, fr, c, fc)
    return blocks.mean(axis=(2, 4), dtype=np.float64)


def scene_cuts(thumbs: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
    """True for each thumbnail that correlates less than
    :data:`CUT_CORRELATION` with the one before it (``previous`` for the
    first; none: no cut)."""
    cuts = np.zeros(len(thumbs), bool)
    for i, thumb in enumerate(thumbs):
        before = thumbs[i - 1] if i else previous
        if before is None:
            continue
        a, b = thumb - thumb.mean(), before - before.mean()
        scale = np.sqrt((a * a).sum() * (b * b).sum())
        # Two flat pictures: a cut only if the level changed.
        if scale == 0:
            cuts[i] = not np.isclose(thumb.mean(), before.mean())
        else:
            cuts[i] = (a * b).sum() / scale < CUT_CORRELATION
    return cuts


class SmoothedAutoWiener:
    """Restores batches of consecutive frames with ``snr="auto"`` smoothed over
    time: the per-frame choices are Wiener's own (:meth:`raw_snr`), the frames
    are then restored once, with the smoothed values
    (one fixed-snr filter per value, a few kept). Made per video: it holds the
    running value, so it is not shared between streams.
    """

    def __init__(self, psf, *, channel_axis=-1, keep: int = 6, **options):
        options.pop("snr", None)
        self.psf, self.channel_axis, self.options = psf, channel_axis, options
        self.smoother = SnrSmoother()
        self.filters: OrderedDict = OrderedDict()
        self.keep = keep
        probe = Wiener(psf, snr=1.0, channel_axis=channel_axis, **options)  # validates here
        # Without a regulariser, and with a border that hides the frame's edge
        # error, Wiener's own choice needs only the frames (no spectrum): it is
        # made here without restoring the batch a first time.
        self.choice_needs_spectrum = probe.reg is not None or probe.border == "circular"
        # One array per batch: a few bytes a frame however long the video.
        self._chosen: list[np.ndarray] = []
        self.last_thumbnail = None

    @property
    def history(self) -> np.ndarray:
        """The smoothed snr of every frame restored so far (frames[, channels])."""
        return np.concatenate(self._chosen) if self._chosen else np.empty(0)

    def _filter(self, snr: float) -> Wiener:
        filt = self.filters.pop(snr, None)
        if filt is None:
            filt = Wiener(self.psf, snr=snr, **self.options)
        self.filters[snr] = filt
        while len(self.filters) > self.keep:
            self.filters.popitem(last=False)
        return filt

    def raw_snr(self, batch: np.ndarray) -> np.ndarray:
        """``snr="auto"``'s own choice for each frame (and channel) of ``batch``,
        as :func:`gpudeconv.wiener` with ``return_snr=True`` reports it."""
        if self.choice_needs_spectrum:
            _, raw = wiener(
                batch, self.psf, snr="auto", channel_axis=self.channel_axis,
                return_snr=True, **self.options,
            )  # fmt: skip
            return raw
        frames = Layout.of(batch, self.channel_axis).frames(batch)
        # The filter keeps 1 / (1 / snr): the same rounding here.
        return 1.0 / (1.0 / parameters.wiener_snr(np, frames))

    def choose(self, batch: np.ndarray) -> np.ndarray:
        """The smoothed snr of each frame (and channel) of ``batch``, the next
        frames of the video, rounded to :data:`STEP`; kept in :attr:`history`."""
        raw = self.raw_snr(batch)
        thumbs = thumbnails(batch, self.channel_axis)
        cuts = scene_cuts(thumbs, self.last_thumbnail)
        self.last_thumbnail = thumbs[-1]
        smoothed = self.smoother(raw, cuts)
        self._chosen.append(smoothed)
        return 10.0 ** (np.round(np.log10(smoothed) / STEP) * STEP)

    def restore_with(self, batch, values: np.ndarray):
        """``batch`` restored with the snr ``values`` (frames[, channels]), as
        :meth:`choose` gives them; ``batch`` may be on the GPU."""
        # One channel plane per (frame, channel): planes sharing a value are
        # restored together.
        planes = np.moveaxis(batch, self.channel_axis, -3) if values.ndim > 1 else batch
        # C order, so that the flat view below writes into it; on batch's device
        out = np.empty_like(planes, order="C")
        flat_in = planes.reshape(-1, *planes.shape[-2:])
        flat_out = out.reshape(flat_in.shape)
        values = values.reshape(-1)
        if values.size != len(flat_in):
            raise ValueError(f"{values.size} snr values for {len(flat_in)} planes")
        for value in np.unique(values):
            index = np.flatnonzero(values == value)
            flat_out[index] = self._filter(float(value))(flat_in[index])
        if planes is not batch:
            out = np.moveaxis(out, -3, self.channel_axis)
            out = out if not isinstance(out, np.ndarray) else np.ascontiguousarray(out)
        return out

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.restore_with(batch, self.choose(batch))
