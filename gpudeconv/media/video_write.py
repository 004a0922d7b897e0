"""Writing a video with PyAV: the encoder, its pixel format, the copied streams.

H.264 by default (libx264, CRF 18, preset medium), H.265 and AV1 on request;
NVIDIA's NVENC first when the restoration runs on the GPU, if that encoder
opens here, else the software one. The output keeps the input's exact frame
size (odd sizes in 4:4:4, which every H.264/H.265 decoder in FFmpeg reads),
its bit depth class (8 or 10 bits), colour tags, rotation and time stamps.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction

import av
from av.video.reformatter import VideoReformatter

from .video_planes import PlaneFormat, planes_frame
from .video_read import COLOUR_TAGS, SCALING, Source

__all__ = ["Encoder", "choose_encoder", "CODEC_SUFFIXES"]

# SVT-AV1 prints its banner straight to stderr unless told otherwise
# (1: errors only); FFmpeg's own log stays at PyAV's default (silent).
os.environ.setdefault("SVT_LOG", "1")

#: Encoders tried in order for each codec name: hardware first when the
#: restoration runs on the GPU.
HARDWARE = {"h264": ["h264_nvenc"], "hevc": ["hevc_nvenc"], "av1": ["av1_nvenc"]}
SOFTWARE = {"h264": ["libx264"], "hevc": ["libx265"], "av1": ["libsvtav1", "libaom-av1"]}
ALIASES = {"h265": "hevc", "x264": "h264", "x265": "hevc", "avc": "h264"}
#: Default codec by output extension.
CODEC_SUFFIXES = {
    ".mp4": "h264",
    ".m4v": "h264",
    ".mov": "h264",
    ".mkv": "h264",
    ".avi": "h264",
    ".ts": "h264",
    ".webm": "av1",
}
#: Constant-quality option, its default and the preset's default per encoder.
QUALITY = {
    "libx264": ("crf", 18, "medium"),
    "libx265": ("crf", 20, "medium"),
    "libsvtav1": ("crf", 30, "8"),
    "libaom-av1": ("crf", 30, None),
    "h264_nvenc": ("cq", 19, "p5"),
    "hevc_nvenc": ("cq", 21, "p5"),
    "av1_nvenc": ("cq", 30, "p5"),
}


@dataclass
class Encoder:
    """A chosen encoder: its name, pixel format and options."""

    name: str
    pix_fmt: str
    options: dict

    def describe(self) -> str:
        quality = ", ".join(f"{k} {v}" for k, v in self.options.items() if k in ("crf", "cq"))
        return f"{self.name} {self.pix_fmt}" + (f", {quality}" if quality else "")


def codec_for(target_suffix: str, codec: str | None) -> str:
    if codec:
        return ALIASES.get(codec.lower(), codec.lower())
    try:
        return CODEC_SUFFIXES[target_suffix.lower()]
    except KeyError:
        raise ValueError(
            f"no default codec for {target_suffix or 'a name without extension'}; use one of "
            f"{', '.join(CODEC_SUFFIXES)} or pass --codec"
        ) from None


def candidates(codec: str, hardware: bool) -> list[str]:
    names = (HARDWARE.get(codec, []) if hardware else []) + SOFTWARE.get(codec, [])
    return names or [codec]  # any FFmpeg encoder by name (mpeg4, ffv1, mjpeg, ...)


def pixel_format(encoder: str, info: Source) -> str | None:
    """The encoder's format closest to the input's that keeps its exact size
    and bit depth class, or None when it has none."""
    try:
        supported = [f.name for f in av.codec.Codec(encoder, "w").video_formats or ()]
    except (av.FFmpegError, ValueError):
        return None
    deep = info.bits > 8
    name = info.pix_fmt
    chroma = "444" if ("444" in name or name.startswith(("gbr", "rgb", "bgr"))) else "420"
    chroma = "422" if "422" in name else chroma
    if info.width % 2 or info.height % 2:
        chroma = "444"  # 4:2:0 and 4:2:2 need even sizes
    wanted = f"yuv{chroma}p" + ("10le" if deep else "")
    fallbacks = {
        "yuv420p10le": ["p010le"],
        "yuv444p10le": ["yuv444p16le"],
        "yuv420p": ["yuvj420p"],
        "yuv422p": ["yuvj422p"],
        "yuv444p": ["yuvj444p"],
    }
    for fmt in [wanted, *fallbacks.get(wanted, [])]:
        if fmt in supported:
            return fmt
    if chroma != "444" and not deep and "yuv420p" in supported:
        return "yuv420p"
    if chroma == "422" and deep and "yuv420p10le" in supported:
        return "yuv420p10le"
    return None


def encoder_options(encoder: str, crf: float | None, preset: str | None) -> dict:
    quality, default_crf, default_preset = QUALITY.get(encoder, (None, None, None))
    options = {}
    if crf is not None and quality is None:
        raise ValueError(
            f"--crf applies to {', '.join(QUALITY)}; {encoder} has no constant-quality mode"
        )
    if preset is not None and default_preset is None:
        raise ValueError(f"--preset does not apply to {encoder}")
    if quality is not None:
        options[quality] = f"{default_crf if crf is None else crf:g}"
        if quality == "cq":
            options["rc"] = "vbr"
    if default_preset is not None:
        options["preset"] = preset or default_preset
    return options


def try_encoder(name: str, pix_fmt: str, info: Source, options: dict) -> None:
    """Open ``name`` once as it will be used; raises when it cannot (no
    NVIDIA driver, an unsupported size, a bad option)."""
    ctx = av.CodecContext.create(name, "w")
    configure(ctx, info, pix_fmt, options)
    ctx.open()


def configure(ctx, info: Source, pix_fmt: str, options: dict) -> None:
    ctx.width, ctx.height, ctx.pix_fmt = info.width, info.height, pix_fmt
    ctx.time_base = info.time_base
    ctx.framerate = info.rate
    for tag in COLOUR_TAGS:
        if info.colour.get(tag):
            setattr(ctx, tag, info.colour[tag])
    ctx.options = dict(options)


def choose_encoder(
    info: Source, codec: str, *, crf=None, preset=None, hardware=False, opener=try_encoder
) -> Encoder:
    """The first encoder for ``codec`` that opens with a pixel format that
    keeps the input's size and depth; ``opener`` is replaceable for tests.

    Raises
    ------
    ValueError
        When none does: the message says why and what to use instead.
    """
    tried = []
    for name in candidates(codec, hardware):
        try:
            av.codec.Codec(name, "w")
        except (av.FFmpegError, ValueError):
            tried.append(f"{name}: not in this FFmpeg build")
            continue
        pix_fmt = pixel_format(name, info)
        if pix_fmt is None:
            size = f"{info.width}x{info.height}"
            tried.append(f"{name}: no pixel format for {size} {info.bits}-bit {info.pix_fmt}")
            continue
        options = encoder_options(name, crf, preset)
        try:
            opener(name, pix_fmt, info, options)
        except (av.FFmpegError, ValueError, OSError) as exc:
            tried.append(f"{name}: {getattr(exc, 'strerror', None) or exc}")
            continue
        return Encoder(name, pix_fmt, options)
    raise ValueError(f"cannot encode {codec!r} here ({'; '.join(tried)}); try --codec h264 or hevc")


def open_output(path, info: Source, encoder: Encoder, rotation: float, input_container):
    """Open ``path`` for writing; returns ``(container, video stream, {input
    stream index: output stream}, [names of streams left out])``."""
    output = av.open(str(path), "w")
    try:
        output.metadata.update(input_container.metadata)
        stream = output.add_stream(encoder.name, rate=info.rate)
        configure(stream.codec_context, info, encoder.pix_fmt, encoder.options)
        stream.time_base = info.time_base
        video_in = input_container.streams.video[0]
        stream.metadata.update(video_in.metadata)
        if rotation:
            stream.set_display_rotation(rotation)
        copies, dropped = {}, []
        supported = output.supported_codecs
        for other in info.others:
            name = other.codec_context.name if other.codec_context else None
            label = f"{other.type} ({name or 'unknown'})"
            if name is None or name not in supported:
                dropped.append(label)
                continue
            try:
                copies[other.index] = output.add_stream_from_template(other)
            except (av.FFmpegError, ValueError) as exc:
                dropped.append(f"{label}: {exc}")
                continue
            copies[other.index].metadata.update(other.metadata)
        return output, stream, copies, dropped
    except BaseException:
        output.close()
        raise


def video_frame(
    array, info: Source, encoder: Encoder, pts, time_base: Fraction, reformatter=None, threads=1
):
    """A restored BGR array as a frame in the encoder's format, converted with
    the input's matrix and range. Pass one ``VideoReformatter`` per thread
    for every frame: PyAV otherwise builds a swscale context and its thread
    pool per frame (720p: 10 -> 5 ms a frame)."""
    frame = av.VideoFrame.from_ndarray(array, format=info.array_format)
    frame = _to_encoder(frame, info, encoder, reformatter, threads, from_yuv=False)
    frame.pts, frame.time_base = pts, time_base
    return frame


def plane_video_frame(
    planes, fmt: PlaneFormat, info: Source, encoder: Encoder, pts, time_base: Fraction,
    reformatter=None, threads=1,
):  # fmt: skip
    """Restored ``(luma, chroma)`` planes as a frame in the encoder's format:
    as they are when the encoder takes the stream's own format (the usual
    case), else resampled YUV to YUV with the same matrix and range."""
    frame = planes_frame(*planes, fmt)
    if encoder.pix_fmt != fmt.pix_fmt:
        frame = _to_encoder(frame, info, encoder, reformatter, threads, from_yuv=True)
    frame.pts, frame.time_base = pts, time_base
    return frame


def _to_encoder(frame, info: Source, encoder: Encoder, reformatter, threads, *, from_yuv: bool):
    """``frame`` in the encoder's format, with the input's matrix and range
    (``from_yuv``: the frame already has them)."""
    colorspace = info.colour.get("colorspace") or None
    colour_range = info.colour.get("color_range") or None
    return (reformatter or VideoReformatter()).reformat(
        frame,
        format=encoder.pix_fmt,
        src_colorspace=colorspace,
        dst_colorspace=colorspace,
        src_color_range=colour_range if from_yuv else None,
        dst_color_range=colour_range,
        interpolation=SCALING,
        threads=threads,
    )
