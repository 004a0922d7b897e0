"""Reading a video with PyAV: the picture as arrays, everything else as packets.

The video stream is decoded (threaded, or on NVDEC when the restoration runs
on the GPU and it opens) into BGR arrays, 8-bit or, for deeper sources,
16-bit; every other stream the output can carry (audio, subtitles, data) is
passed on packet for packet, untouched, so that it can be copied without
re-encoding and stays in sync.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.codec.hwaccel import HWAccel, HWDeviceType
from av.video.reformatter import Interpolation, VideoReformatter

from .folders import IMAGE_SUFFIXES

__all__ = ["DEVICE_TYPES", "Source", "ToArray", "open_source", "check_paths"]

#: swscale's default (bilinear, fast rounding) loses 2.4 levels of brightness
#: and reaches 37 dB on a BGR -> YUV 4:2:0 -> BGR round trip; bicubic with
#: accurate rounding and full chroma interpolation: no bias, 41-42 dB.
SCALING = (
    Interpolation.BICUBIC
    | Interpolation.ACCURATE_RND
    | Interpolation.FULL_CHR_H_INT
    | Interpolation.FULL_CHR_H_INP
)
#: The colour tags carried from the input's video stream to the output's.
COLOUR_TAGS = ("color_primaries", "color_trc", "colorspace", "color_range")


@dataclass
class Source:
    """What the output must reproduce of the input's video stream."""

    path: Path
    width: int
    height: int
    rate: Fraction  # nominal frame rate
    time_base: Fraction
    pix_fmt: str
    bits: int  # bits per component of the input
    declared: int | None  # frames the container declares (or its duration implies)
    declared_exact: bool  # counted by the container rather than estimated
    colour: dict = field(default_factory=dict)  # COLOUR_TAGS -> int
    rotation: float = 0.0
    others: list = field(default_factory=list)  # streams to copy
    decoder: str = ""  # the decoder and where it runs, e.g. "h264 (cuda)"

    @property
    def array_format(self) -> str:
        """The pixel format frames are handed to the restorer in."""
        return "bgr48le" if self.bits > 8 else "bgr24"


def check_paths(source, target, *, overwrite: bool) -> tuple[Path, Path]:
    """Refuse, before anything is read, what cannot work: a missing input, a
    folder or an image given as the video, an output that is the input."""
    source, target = Path(source), Path(target)
    if source.is_dir():
        raise ValueError(
            f"{source} is a folder, not a video; use 'gpudeconv deblur' for folders of images"
        )
    if not source.is_file():
        raise FileNotFoundError(f"no such video: {source}")
    if source.suffix.lower() in IMAGE_SUFFIXES:
        raise ValueError(f"{source} is an image, not a video; use 'gpudeconv deblur' for images")
    if target.is_dir():
        raise ValueError(f"the output {target} is a folder; give a file name such as out.mp4")
    same = target.exists() and os.path.samefile(source, target)
    if same or source.resolve() == target.resolve():
        raise ValueError(
            f"the output {target} is the input video; write to another file (the input "
            "is read while the output is written)"
        )
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; pass --overwrite to replace it")
    return source, target


def open_source(path: Path, hwaccel: str | None = None):
    """Open ``path``; returns ``(container, Source)``.

    ``hwaccel`` names an FFmpeg device type (``"cuda"``: NVDEC) to decode
    on. When it cannot be used (no such device or driver here, no decoder
    for this codec on it) decoding is done in software, the frames are the
    same, and ``Source.decoder`` says why.

    Raises
    ------
    ValueError
        When it has no video stream or cannot be opened as a video, or
        ``hwaccel`` is not a device type FFmpeg knows.
    """
    if hwaccel is not None and hwaccel not in DEVICE_TYPES:
        raise ValueError(f"hwaccel must be one of {', '.join(DEVICE_TYPES)}, got {hwaccel!r}")
    container = _open(path)
    try:
        info = _describe(container, path)
    except BaseException:
        container.close()
        raise
    if hwaccel is None:
        return container, info
    # The stream's format and depth come from the software context above: a
    # hardware one reports its surface format (cuda) instead.
    try:
        accelerated, why = _open_accelerated(path, hwaccel)
    except BaseException:
        container.close()
        raise
    if accelerated is None:
        info.decoder += f" (software: {why})"
        return container, info
    container.close()
    info.others = [accelerated.streams[s.index] for s in info.others]
    info.decoder += f" ({hwaccel})"
    return accelerated, info


def _open_accelerated(path: Path, hwaccel: str):
    """A container decoding on ``hwaccel``, or ``(None, why not)``. The first
    frame is decoded as a trial, without FFmpeg's silent software fallback,
    so that the report says where decoding really runs; the run itself may
    fall back (e.g. at a change of resolution) rather than lose frames."""
    failures = (av.FFmpegError, RuntimeError, NotImplementedError, OSError)
    # CUDA: share the primary context (CuPy's) rather than make a second one.
    options = {"primary_ctx": "1"} if hwaccel == "cuda" else None

    def device(fallback: bool) -> HWAccel:
        return HWAccel(hwaccel, allow_software_fallback=fallback, options=options)

    try:
        trial = av.open(str(path), "r", hwaccel=device(False))
    except failures as exc:
        return None, f"{hwaccel} unavailable, {_reason(exc)}"
    try:
        next(trial.decode(video=0), None)
    except failures as exc:
        return None, f"{hwaccel} cannot decode it, {_reason(exc)}"
    finally:
        trial.close()
    try:
        return av.open(str(path), "r", hwaccel=device(True)), ""
    except failures as exc:
        return None, f"{hwaccel} unavailable, {_reason(exc)}"


#: Hardware device types this FFmpeg knows by name (``"cuda"`` is NVDEC).
DEVICE_TYPES = [name for name in HWDeviceType.__members__ if name != "none"]


def _open(path: Path):
    try:
        container = av.open(str(path), "r")
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path} as a video ({_reason(exc)})") from None
    if container.streams.video:
        # Frame and slice threads (a hardware decoder keeps FFmpeg's own).
        container.streams.video[0].thread_type = "AUTO"
    return container


def _describe(container, path: Path) -> Source:
    if not container.streams.video:
        raise ValueError(f"{path} has no video stream")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    if not ctx.width or not ctx.height or not ctx.format:
        raise ValueError(f"cannot read {path} as a video (no decodable frames)")
    fmt = ctx.format
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate or Fraction(25)
    declared, exact = _declared_frames(container, stream, rate)
    return Source(
        path=path,
        width=ctx.width,
        height=ctx.height,
        rate=Fraction(rate),
        time_base=Fraction(stream.time_base or Fraction(1, 90000)),
        pix_fmt=fmt.name,
        bits=max(c.bits for c in fmt.components) if fmt.components else 8,
        declared=declared,
        declared_exact=exact,
        colour={tag: int(getattr(ctx, tag)) for tag in COLOUR_TAGS},
        others=[s for s in container.streams if s.index != stream.index and s.type != "attachment"],
        decoder=ctx.name,
    )


def _declared_frames(container, stream, rate) -> tuple[int | None, bool]:
    if stream.frames:
        return int(stream.frames), True
    if stream.duration is not None and stream.time_base:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration:
        seconds = container.duration / av.time_base
    else:
        return None, False
    return max(1, math.floor(seconds * float(rate) + 0.5)), False


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


class ToArray:
    """Turns decoded frames into ``(rows, cols, 3)`` BGR arrays, converted
    with the stream's own matrix and range (so that converting back is exact
    up to rounding). One per thread: it keeps its swscale contexts.

    PyAV's ``frame.to_ndarray`` builds a new swscale context, with its own
    thread pool, for every frame, and swscale's YUV -> packed BGR path with
    full chroma interpolation is slow; YUV -> planar GBR then GBR -> BGR gives
    the same bytes (checked in the tests) for 40 % of the CPU time (720p:
    15 -> 6 ms a frame). ``threads=1`` where the restoration keeps every
    core busy (the CPU path); 0 (one per core) where it runs on a GPU.
    """

    def __init__(self, info: Source, threads: int = 1):
        self.info, self.threads = info, threads
        self.planar = "gbrp16le" if info.bits > 8 else "gbrp"
        self.to_planar, self.to_packed = VideoReformatter(), VideoReformatter()

    def __call__(self, frame) -> np.ndarray:
        info = self.info
        planar = self.to_planar.reformat(
            frame,
            format=self.planar,
            src_colorspace=info.colour.get("colorspace") or None,
            src_color_range=info.colour.get("color_range") or None,
            interpolation=SCALING,
            threads=self.threads,
        )
        packed = self.to_packed.reformat(
            planar, format=info.array_format, interpolation=SCALING, threads=self.threads
        )
        return packed.to_ndarray()


def demux(container, info: Source, copied: set[int], errors: list, threads: int = 1, to_array=None):
    """Yield ``("frame", array, pts, rotation)`` for each decodable frame
    (``to_array(frame)``: BGR by default, see :class:`ToArray`) and
    ``("packet", packet)`` for each packet of a stream in ``copied``, in file
    order. Packets the decoder rejects are counted in ``errors``, not raised:
    the frames that decode are kept."""
    video = container.streams.video[0]
    streams = [video, *(s for s in info.others if s.index in copied)]
    to_array = to_array or ToArray(info, threads)
    packets = container.demux(streams)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except av.FFmpegError as exc:  # a damaged container: stop at the damage
            errors.append(_reason(exc))
            break
        if packet.stream.index != video.index:
            if packet.size:  # not the empty end-of-stream marker
                yield ("packet", packet)
            continue
        try:
            frames = video.decode(packet)
        except av.FFmpegError as exc:
            errors.append(_reason(exc))
            continue
        for frame in frames:
            yield ("frame", to_array(frame), frame.pts, frame.rotation)
