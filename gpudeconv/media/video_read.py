"""Reading a video with PyAV: the picture as arrays, everything else as packets.

The video stream is decoded (threaded) into BGR arrays, 8-bit or, for deeper
sources, 16-bit; every other stream the output can carry (audio, subtitles,
data) is passed on packet for packet, untouched, so that it can be copied
without re-encoding and stays in sync.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Interpolation

from .folders import IMAGE_SUFFIXES

__all__ = ["Source", "open_source", "check_paths"]

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


def open_source(path: Path):
    """Open ``path``; returns ``(container, Source)``.

    Raises
    ------
    ValueError
        When it has no video stream or cannot be opened as a video.
    """
    try:
        container = av.open(str(path), "r")
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path} as a video ({_reason(exc)})") from None
    try:
        if not container.streams.video:
            raise ValueError(f"{path} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame and slice threads
        ctx = stream.codec_context
        if not ctx.width or not ctx.height or not ctx.format:
            raise ValueError(f"cannot read {path} as a video (no decodable frames)")
        fmt = ctx.format
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate or Fraction(25)
        declared, exact = _declared_frames(container, stream, rate)
        bits = max(c.bits for c in fmt.components) if fmt.components else 8
        others = [
            s for s in container.streams if s.index != stream.index and s.type != "attachment"
        ]
        info = Source(
            path=path,
            width=ctx.width,
            height=ctx.height,
            rate=Fraction(rate),
            time_base=Fraction(stream.time_base or Fraction(1, 90000)),
            pix_fmt=fmt.name,
            bits=bits,
            declared=declared,
            declared_exact=exact,
            colour={tag: int(getattr(ctx, tag)) for tag in COLOUR_TAGS},
            others=others,
        )
        return container, info
    except BaseException:
        container.close()
        raise


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


def to_array(frame, info: Source) -> np.ndarray:
    """A decoded frame as ``(rows, cols, 3)`` BGR, converted with the
    stream's own matrix and range (so that converting back is exact up to
    rounding)."""
    return frame.to_ndarray(
        format=info.array_format,
        src_colorspace=info.colour.get("colorspace") or None,
        src_color_range=info.colour.get("color_range") or None,
        interpolation=SCALING,
    )


def demux(container, info: Source, copied: set[int], errors: list):
    """Yield ``("frame", array, pts, rotation)`` for each decodable frame and
    ``("packet", packet)`` for each packet of a stream in ``copied``, in file
    order. Packets the decoder rejects are counted in ``errors``, not raised:
    the frames that decode are kept."""
    video = container.streams.video[0]
    streams = [video, *(s for s in info.others if s.index in copied)]
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
            yield ("frame", to_array(frame, info), frame.pts, frame.rotation)
