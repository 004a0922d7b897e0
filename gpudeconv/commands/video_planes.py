"""Restoring a video's YUV planes with Wiener: luma with the PSF, chroma with it scaled.

Used by ``gpudeconv video`` for the linear method (Wiener, fixed or automatic
snr) on planar YUV streams (see :mod:`gpudeconv.media.video_planes`): no
colour conversion, and the 4:2:0 chroma planes restored at their own
quarter size, for about half the work of restoring BGR frames at the same
quality (``benchmarks/video_pipeline.py`` measures both).

Each plane is restored about its zero level (black for luma, neutral grey
for chroma), as the BGR channels are about 0: Wiener's slight attenuation
of the mean then darkens and desaturates exactly as it does in BGR instead
of tinting the picture. The result is clipped to the video's legal range,
widened to what the input itself reaches (super-whites survive), as BGR
restoration clips to 0-255.
"""

from __future__ import annotations

import functools
import threading

import numpy as np

from ..deconvolve import make_deconvolver
from ..engine.backend import fft_threads
from ..engine.kernels import downscale
from ..media.video_planes import PlaneFormat
from .video_snr import SmoothedAutoWiener

__all__ = ["PlaneRestorer", "RemotePlanes", "wiener_filters"]


class PlaneRestorer:
    """Restores ``(luma (N, rows, cols), chroma (N, 2, rows', cols'))``
    batches of consecutive frames; made per video (with ``snr="auto"`` it
    holds the running choice).

    Parameters
    ----------
    make_filter : callable
        ``make_filter(psf, channel_axis)``: a filter for batches of planes
        (e.g. ``functools.partial(gpudeconv.Wiener, snr=100)``), or, with
        ``auto``, a :class:`SmoothedAutoWiener`.
    psf : (k_r, k_c) array
        The blur of the full-size picture.
    auto : bool
        The filters are :class:`SmoothedAutoWiener`: the snr is chosen per
        frame on the luma plane (about black), smoothed over time, and the chroma planes
        take the same value (their noise relative to the picture's range is
        the luma's).
    xp : module
        ``cupy`` when the filters run on the GPU: the planes are moved there
        as integers and the arithmetic around the filter is done there.
    """

    def __init__(self, make_filter, psf, *, auto: bool = False, xp=np):
        self.make_filter, self.psf, self.auto, self.xp = make_filter, psf, auto, xp
        self.filters: dict = {}
        self.lock = threading.Lock()

    @property
    def history(self) -> np.ndarray:
        """With ``auto``: the smoothed snr of every frame so far (luma's)."""
        luma = self.filters.get("luma")
        return getattr(luma, "history", np.empty(0))

    def _filter(self, key, psf_of, channel_axis):
        """The filter for ``key``, made once from the PSF ``psf_of()`` gives."""
        with self.lock:
            if key not in self.filters:
                self.filters[key] = self.make_filter(psf_of(), channel_axis)
            return self.filters[key]

    def __call__(self, luma, chroma, fmt: PlaneFormat):
        luma_filter = self._filter("luma", lambda: self.psf, None)
        shape = chroma.shape[-2:]
        chroma_filter = self._filter(
            ("chroma", fmt.rows, fmt.cols, shape),
            lambda: _fit(downscale(self.psf, fmt.rows, fmt.cols), shape),
            1,
        )
        shifted = None
        if self.auto:
            # Per frame, on luma about black: its peak is then the picture's
            # (a dark limited-range frame is not taken for a bright one).
            shifted = np.subtract(luma, fmt.black, dtype=np.float32)
            values = luma_filter.choose(shifted)
            chroma_values = np.repeat(values[:, None], chroma.shape[1], axis=1)
            luma_filter = _with_values(luma_filter, values)
            chroma_filter = _with_values(chroma_filter, chroma_values)
            if self.xp is not np:
                shifted = None  # integers travel to the GPU, not floats
        low, high = (fmt.black, fmt.luma_top), fmt.chroma_range
        return (
            self._restore(luma_filter, luma, fmt.black, low, fmt.dtype, shifted),
            self._restore(chroma_filter, chroma, fmt.neutral, high, fmt.dtype),
        )

    def _restore(self, filt, planes, zero: int, limits, dtype, shifted=None):
        """``planes`` restored about ``zero``; ``shifted``: ``planes - zero``
        in float32 when already made."""
        xp = self.xp
        data = xp.asarray(planes)
        # Each plane of each frame keeps its own widened limits: a frame's
        # output does not depend on the others in its batch.
        low = xp.minimum(data.min(axis=(-2, -1), keepdims=True), limits[0]).astype(np.float32)
        high = xp.maximum(data.max(axis=(-2, -1), keepdims=True), limits[1]).astype(np.float32)
        # A float input comes back as float, unclipped: clipped, then the zero
        # level and a half added back so that the cast rounds (all in place:
        # 1080p planes are 3 MB a frame).
        if shifted is None:
            shifted = xp.subtract(data, zero, dtype=np.float32)
        out = filt(shifted)
        xp.clip(out, low - zero, high - zero, out=out)
        out += np.float32(zero + 0.5)
        out = out.astype(dtype)
        return out if xp is np else out.get()


def _fit(psf: np.ndarray, shape) -> np.ndarray:
    """``psf`` cut to at most ``shape`` about its centre (odd sides kept).
    A PSF as wide as the picture can come out of :func:`downscale` one
    pixel wider than the chroma plane (its bilinear tails): those are cut."""
    rows, cols = (min(k, s - 1 + s % 2) for k, s in zip(psf.shape, shape, strict=True))
    if (rows, cols) == psf.shape:
        return psf
    top, left = (psf.shape[0] - rows) // 2, (psf.shape[1] - cols) // 2
    cut = psf[top : top + rows, left : left + cols]
    return cut / cut.sum()


def _with_values(auto: SmoothedAutoWiener, values):
    return lambda batch: auto.restore_with(batch, values)


def wiener_filters(options: dict):
    """``make_filter`` for :class:`PlaneRestorer`: Wiener with ``options``
    (those of :func:`gpudeconv.wiener` but ``channel_axis``), a
    :class:`SmoothedAutoWiener` where ``snr`` is ``"auto"``. Picklable."""
    return functools.partial(_wiener, options=dict(options))


def _wiener(psf, channel_axis, *, options):
    chosen = {**options, "channel_axis": channel_axis}
    if chosen.get("snr") == "auto":
        return SmoothedAutoWiener(psf, **chosen)
    return make_deconvolver(psf, "wiener", **chosen)


class RemotePlanes:
    """The planes task for ``--scheduler`` (fixed snr): picklable, it carries
    the PSF and the options, and each worker process plans its filters once;
    FFTs run single-threaded inside, since the workers run batches side by
    side. Half the bytes of BGR frames travel, and the client converts
    nothing."""

    def __init__(self, psf, options: dict):
        if options.get("snr") == "auto":
            raise ValueError("RemotePlanes restores with a fixed snr; auto is chosen per frame")
        self.psf, self.options = psf, dict(options)
        self._restorer = None

    def __getstate__(self):
        return {"psf": self.psf, "options": self.options, "_restorer": None}

    def __call__(self, luma, chroma, fmt: PlaneFormat):
        if self._restorer is None:
            self._restorer = PlaneRestorer(wiener_filters(self.options), self.psf)
        with fft_threads(1):
            return self._restorer(luma, chroma, fmt)
