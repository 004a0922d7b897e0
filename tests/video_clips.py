"""Short clips made with PyAV for the video tests: a moving crop of a real
photo, blurred, with a sine-wave audio track."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

import gpudeconv
from gpudeconv.commands.demo import builtin_image
from gpudeconv.media.video_read import SCALING

KERNEL = "motion:15:30"
SAMPLE_RATE = 48000


def scene(n, rows=120, cols=160, step=2):
    """``n`` sharp BGR frames: a crop of the built-in photo moving right, and
    back at the photo's edge (a long clip stays a crop of the real photo)."""
    photo = builtin_image()
    room = photo.shape[1] - 30 - cols  # how far the crop can move
    if 20 + rows > photo.shape[0] or room < 0:
        # A crop past the photo would give smaller frames, which the encoder
        # would silently stretch: another blur than the one asked for.
        raise ValueError(f"{rows}x{cols} frames do not fit in the {photo.shape[:2]} photo")
    frames = []
    for i in range(n):
        shift = (step * i) % (2 * room) if room else 0
        x = 30 + (shift if shift <= room else 2 * room - shift)
        frames.append(np.ascontiguousarray(photo[20 : 20 + rows, x : x + cols]))
    return frames


def make_clip(
    path,
    n=30,
    rows=120,
    cols=160,
    rate=12,
    codec="libx264",
    pix_fmt="yuv420p",
    audio=True,
    pts=None,
    colour=None,
    options=None,
    container_options=None,
    kernel=KERNEL,
):
    """Write a blurred moving crop to ``path``; returns the sharp frames.

    ``pts`` (in 1/1000 s) gives a variable frame rate; ``colour`` sets the
    stream's colour tags (e.g. {"colorspace": 1, "color_range": 1}).
    """
    truth = scene(n, rows, cols)
    psf = gpudeconv.psf.from_spec(kernel)
    with av.open(str(path), "w", options=container_options or {}) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = cols, rows, pix_fmt
        stream.codec_context.options = options or {"crf": "10", "preset": "ultrafast"}
        if pts is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        for tag, value in (colour or {}).items():
            setattr(stream.codec_context, tag, value)
        deep = "10" in pix_fmt
        if audio:
            sound = out.add_stream("aac", rate=SAMPLE_RATE)
            sound.layout = "mono"
        for i, sharp in enumerate(truth):
            blurred = gpudeconv.blur(sharp, psf, channel_axis=-1, backend="numpy")
            if deep:
                array = blurred.astype(np.uint16) * 257
                frame = av.VideoFrame.from_ndarray(array, format="bgr48le")
            else:
                frame = av.VideoFrame.from_ndarray(blurred, format="bgr24")
            frame = frame.reformat(
                format=pix_fmt,
                dst_colorspace=(colour or {}).get("colorspace"),
                dst_color_range=(colour or {}).get("color_range"),
            )
            if pts is not None:
                frame.pts, frame.time_base = pts[i], Fraction(1, 1000)
            else:
                frame.pts, frame.time_base = i, Fraction(1, rate)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        if audio:
            seconds = (pts[-1] / 1000 + 1 / rate) if pts is not None else n / rate
            samples = int(seconds * SAMPLE_RATE)
            t = np.arange(samples) / SAMPLE_RATE
            wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for start in range(0, samples, 1024):
                chunk = wave[None, start : start + 1024]
                frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
                frame.sample_rate, frame.pts = SAMPLE_RATE, start
                out.mux(sound.encode(frame))
            out.mux(sound.encode(None))
    return truth


def read_video(path, fmt="bgr24"):
    """Every frame as an array, with pts in seconds, and the stream; converted
    as ``gpudeconv video`` converts (swscale's default is 2 levels darker)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames, times = [], []
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format=fmt, interpolation=SCALING))
            times.append(float(frame.pts * frame.time_base))
        ctx = stream.codec_context
        info = {
            "rate": stream.average_rate,
            "pix_fmt": ctx.format.name,
            "codec": ctx.name,
            "size": (ctx.height, ctx.width),
            "colour": {
                t: int(getattr(ctx, t))
                for t in ("colorspace", "color_range", "color_primaries", "color_trc")
            },
        }
    return frames, times, info


def audio_packets(path):
    """The audio stream's packets: (bytes, time in seconds)."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return []
        stream = container.streams.audio[0]
        return [(bytes(p), float(p.pts * p.time_base)) for p in container.demux(stream) if p.size]
