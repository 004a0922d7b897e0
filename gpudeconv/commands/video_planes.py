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

__all__ = ["PlaneRestorer", "RemotePlanes"]


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

    def _filter(self, key, psf, channel_axis):
        with self.lock:
            if key not in self.filters:
                self.filters[key] = self.make_filter(psf, channel_axis)
            return self.filters[key]

    def __call__(self, luma, chroma, fmt: PlaneFormat):
        luma_filter = self._filter("luma", self.psf, None)
        chroma_psf = _fit(downscale(self.psf, fmt.rows, fmt.cols), chroma.shape[-2:])
        key = ("chroma", fmt.rows, fmt.cols, chroma_psf.shape)
        chroma_filter = self._filter(key, chroma_psf, 1)
        if self.auto:
            # Per frame, on luma about black: its peak is then the picture's
            # (a dark limited-range frame is not taken for a bright one).
            values = luma_filter.choose(np.subtract(luma, fmt.black, dtype=np.float32))
            chroma_values = np.repeat(values[:, None], chroma.shape[1], axis=1)
            luma_filter = _with_values(luma_filter, values)
            chroma_filter = _with_values(chroma_filter, chroma_values)
        low, high = (fmt.black, fmt.luma_top), fmt.chroma_range
        return (
            self._restore(luma_filter, luma, fmt.black, low, fmt.dtype),
            self._restore(chroma_filter, chroma, fmt.neutral, high, fmt.dtype),
        )

    def _restore(self, filt, planes, zero: int, limits, dtype):
        xp = self.xp
        data = xp.asarray(planes)
        # Each plane of each frame keeps its own widened limits: a frame's
        # output does not depend on the others in its batch.
        low = xp.minimum(data.min(axis=(-2, -1), keepdims=True), limits[0]).astype(np.float32)
        high = xp.maximum(data.max(axis=(-2, -1), keepdims=True), limits[1]).astype(np.float32)
        # A float input comes back as float, unclipped: clipped, then the zero
        # level and a half added back so that the cast rounds (all in place:
        # 1080p planes are 3 MB a frame).
        out = filt(xp.subtract(data, zero, dtype=np.float32))
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


def _wiener(psf, channel_axis, *, options):
    return make_deconvolver(psf, "wiener", **{**options, "channel_axis": channel_axis})


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
            make_filter = functools.partial(_wiener, options=self.options)
            self._restorer = PlaneRestorer(make_filter, self.psf)
        with fft_threads(1):
            return self._restorer(luma, chroma, fmt)
