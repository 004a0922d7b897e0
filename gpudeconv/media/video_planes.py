"""A video's own YUV planes as arrays, and back: restoring without colour conversion.

Most video is stored as planar YUV with subsampled chroma (4:2:0). Restoring
it as BGR means converting every frame to BGR and back (swscale, 11 ms a
720p frame on one core) and restoring three full-size planes where the
stream holds one and two quarters. A linear restoration (Wiener) commutes
with the linear YUV <-> RGB matrix, so restoring the planes themselves,
each about its own zero level (black for luma, neutral grey for chroma),
gives the same luma and, at the chroma's own resolution, nearly the same
chroma, for about half the work.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import av
import numpy as np
from av.video.reformatter import VideoReformatter

__all__ = ["PlaneFormat", "plane_format", "ToPlanes", "planes_frame"]

#: Semi-planar formats (NVDEC's output, some capture devices) and the planar
#: format their planes are restored in: a repacking, no arithmetic.
SEMI_PLANAR = {
    "nv12": "yuv420p",
    "nv16": "yuv422p",
    "nv24": "yuv444p",
    "p010le": "yuv420p10le",
    "p016le": "yuv420p16le",
}
#: The colour_range tags FFmpeg uses for limited ("MPEG") and full ("JPEG") range.
RANGE_LIMITED, RANGE_FULL = 1, 2


@dataclass(frozen=True)
class PlaneFormat:
    """How a stream's planes are laid out and what their values mean."""

    pix_fmt: str  # planar YUV: 3 planes, luma first
    bits: int  # significant bits per sample (8, 10, 12 or 16)
    rows: int  # chroma subsampling: 1 or 2
    cols: int
    full_range: bool

    @property
    def dtype(self):
        return np.uint8 if self.bits <= 8 else np.uint16

    @property
    def black(self) -> int:
        """Luma's zero level (16 << (bits - 8) in limited range)."""
        return 0 if self.full_range else 16 << (self.bits - 8)

    @property
    def neutral(self) -> int:
        """Chroma's zero level (no colour)."""
        return 1 << (self.bits - 1)

    @property
    def luma_top(self) -> int:
        return (1 << self.bits) - 1 if self.full_range else 235 << (self.bits - 8)

    @property
    def chroma_range(self) -> tuple[int, int]:
        if self.full_range:
            return 0, (1 << self.bits) - 1
        return 16 << (self.bits - 8), 240 << (self.bits - 8)


@functools.lru_cache(maxsize=64)  # asked per frame for NVDEC's NV12 (see ToPlanes)
def plane_format(pix_fmt: str, colour_range: int = 0) -> PlaneFormat | None:
    """The :class:`PlaneFormat` frames of ``pix_fmt`` are restored in, or
    None when they are not YUV with three planes (RGB, grey, palette,
    alpha, big-endian, 4:1:1): those are restored as BGR."""
    planar = SEMI_PLANAR.get(pix_fmt, pix_fmt)
    try:
        fmt = av.VideoFormat(planar)
    except (ValueError, av.FFmpegError):
        return None
    components = fmt.components
    if (
        not planar.startswith("yuv")
        or planar.endswith("be")
        or len(components) != 3
        or sorted(c.plane for c in components) != [0, 1, 2]
        or len({c.bits for c in components}) != 1
    ):
        return None
    # Subsampling from a probe size: the format object has no size of its own.
    probe = av.VideoFormat(planar, 64, 64)
    rows = 64 // probe.chroma_height()
    cols = 64 // probe.chroma_width()
    if rows not in (1, 2) or cols not in (1, 2):
        return None
    full = planar.startswith("yuvj") or colour_range == RANGE_FULL  # yuvj*: JPEG range
    return PlaneFormat(planar, components[0].bits, rows, cols, full)


def _view(plane, dtype) -> np.ndarray:
    """A writable ``(rows, cols)`` view of a frame's plane, line padding cut."""
    itemsize = np.dtype(dtype).itemsize
    flat = np.frombuffer(plane, dtype)
    return flat.reshape(plane.height, plane.line_size // itemsize)[:, : plane.width]


class ToPlanes:
    """Decoded frames as ``(luma (rows, cols), chroma (2, rows', cols'))``
    arrays in the stream's own values. One per thread (it keeps a swscale
    context for the semi-planar formats).

    A frame in another layout of the same samples is repacked, range kept:
    NV12/P010 (NVDEC's output), and 16-bit containers of fewer bits (NVDEC
    gives 10-bit 4:4:4 as ``yuv444p16le``, the bits at the top), which are
    shifted down exactly rather than rescaled by swscale (off by one at the
    top).
    """

    def __init__(self, fmt: PlaneFormat):
        self.fmt = fmt
        self.repack = VideoReformatter()

    def __call__(self, frame) -> tuple[np.ndarray, np.ndarray]:
        fmt, shift = self.fmt, 0
        name = frame.format.name
        if name != fmt.pix_fmt:
            wide = plane_format(name)
            same_layout = wide is not None and (wide.rows, wide.cols) == (fmt.rows, fmt.cols)
            target = fmt.pix_fmt
            if same_layout and wide.bits == 16 and fmt.bits < 16:
                target, shift = wide.pix_fmt, 16 - fmt.bits
            if name != target:
                colour_range = RANGE_FULL if fmt.full_range else RANGE_LIMITED
                frame = self.repack.reformat(
                    frame, format=target, src_color_range=colour_range,
                    dst_color_range=colour_range,
                )  # fmt: skip
        dtype = np.uint16 if shift else fmt.dtype
        y, u, v = (_view(p, dtype) for p in frame.planes[:3])
        if shift:  # rounded, for 16-bit data that is not padded bits
            top = (1 << fmt.bits) - 1
            y, u, v = (np.minimum((a + (1 << (shift - 1))) >> shift, top) for a in (y, u, v))
        return y.astype(fmt.dtype, copy=True), np.stack([u, v]).astype(fmt.dtype, copy=False)


def planes_frame(luma: np.ndarray, chroma: np.ndarray, fmt: PlaneFormat):
    """A ``VideoFrame`` in ``fmt.pix_fmt`` holding ``luma`` and ``chroma``
    (as :class:`ToPlanes` gives them)."""
    rows, cols = luma.shape
    frame = av.VideoFrame(cols, rows, fmt.pix_fmt)
    for plane, values in zip(frame.planes, (luma, chroma[0], chroma[1]), strict=True):
        _view(plane, fmt.dtype)[...] = values
    return frame
