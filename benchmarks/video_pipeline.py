"""Which stage limits ``gpudeconv video``, and how it compares with FFmpeg's own.

    python benchmarks/video_pipeline.py [--frames 30] [--backend auto] [--sizes 720p 1080p]
        [--preset medium veryfast ...] [--repeat 3]

For 720p and 1080p H.264 clips with an AAC track (a moving crop of the
built-in photo, tiled and blurred), measures in frames per second: decoding
(PyAV, to BGR arrays; NVDEC on the GPU path), restoring (Wiener, fixed snr),
encoding (libx264 CRF 18 at each preset, or NVENC on the GPU path) and the
whole threaded pipeline (``gpudeconv.media.video.restore_video``). Then the
peer a video user already has: PyAV decode -> FFmpeg's ``deconvolve`` filter
-> libx264 CRF 18 medium, audio copied. Quality is PSNR against the sharp
frames; "codec loss" is what encoding costs against the restored frames
before encoding. "CPU ms a frame" is the process's CPU time (all threads)
per frame restoring alone and in the pipeline: their ratio is what the
pipeline can reach when the restoration alone keeps every core busy, and
does not depend on the machine's load.

With ``--repeat N`` the restore-only rate and the pipeline at every preset
are measured N times, interleaved, and the medians printed: on a shared
machine the ratio within one round is what counts (the load average is
printed before and after).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gpudeconv  # noqa: E402
from gpudeconv.commands.bench import frames as tiled_frames  # noqa: E402
from gpudeconv.commands.video_planes import PlaneRestorer  # noqa: E402
from gpudeconv.engine.dispatch import resolve_backend  # noqa: E402
from gpudeconv.media.video import restore_video  # noqa: E402
from gpudeconv.media.video_planes import PlaneFormat, ToPlanes, plane_format  # noqa: E402
from gpudeconv.media.video_read import SCALING, ToArray, open_source  # noqa: E402
from gpudeconv.media.video_write import choose_encoder, video_frame  # noqa: E402

SIZES = {"720p": (720, 1280), "1080p": (1080, 1920)}
PSF = gpudeconv.psf.motion(15, 30)
SNR = 100.0
RATE = 30


def psnr(reference, test) -> float:
    diff = np.asarray(test, np.float64) - np.asarray(reference, np.float64)
    return float(10 * np.log10(255**2 / np.mean(diff**2)))


def make_clip(path: Path, rows: int, cols: int, n: int) -> list:
    """An H.264 (CRF 18) + AAC clip of a blurred moving crop; the sharp frames."""
    base = cv2.resize(tiled_frames("1080p", 1)[0], (cols + 4 * n, rows), cv2.INTER_AREA)
    truth = [np.ascontiguousarray(base[:, 4 * i : 4 * i + cols]) for i in range(n)]
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=RATE)
        video.width, video.height, video.pix_fmt = cols, rows, "yuv420p"
        video.codec_context.options = {"crf": "18", "preset": "veryfast"}
        audio = out.add_stream("aac", rate=48000)
        audio.layout = "mono"
        for i, sharp in enumerate(truth):
            blurred = gpudeconv.blur(sharp, PSF, channel_axis=-1, backend="numpy")
            frame = av.VideoFrame.from_ndarray(blurred, format="bgr24")
            frame = frame.reformat(format="yuv420p", interpolation=SCALING)
            frame.pts, frame.time_base = i, Fraction(1, RATE)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        t = np.arange(int(n / RATE * 48000)) / 48000
        wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for start in range(0, len(wave), 1024):
            chunk = av.AudioFrame.from_ndarray(
                wave[None, start : start + 1024], format="flt", layout="mono"
            )
            chunk.sample_rate, chunk.pts = 48000, start
            out.mux(audio.encode(chunk))
        out.mux(audio.encode(None))
    return truth


def decode(path: Path, hwaccel=None) -> tuple[float, list, str]:
    """Frames per second to BGR arrays, the frames, and the decoder used."""
    container, info = open_source(path, hwaccel)
    to_array = ToArray(info, 0 if hwaccel else 1)
    start = time.perf_counter()
    frames = [to_array(f) for f in container.decode(video=0)]
    seconds = time.perf_counter() - start
    container.close()
    return len(frames) / seconds, frames, info.decoder


def restore_rate(restore, frames: list, batch: int) -> tuple[float, float, list]:
    """Frames per second, CPU seconds per frame (all threads), the frames."""
    out, start, cpu = [], time.perf_counter(), time.process_time()
    for i in range(0, len(frames), batch):
        out.extend(restore(np.stack(frames[i : i + batch])))
    cpu = (time.process_time() - cpu) / len(frames)
    return len(frames) / (time.perf_counter() - start), cpu, out


def encode_rate(frames: list, source: Path, target: Path, hardware: bool, preset) -> float:
    container, info = open_source(source)
    container.close()
    encoder = choose_encoder(info, "h264", hardware=hardware, preset=preset)
    start = time.perf_counter()
    with av.open(str(target), "w") as out:
        stream = out.add_stream(encoder.name, rate=RATE)
        stream.width, stream.height, stream.pix_fmt = info.width, info.height, encoder.pix_fmt
        stream.codec_context.options = encoder.options
        for i, array in enumerate(frames):
            out.mux(stream.encode(video_frame(array, info, encoder, i, Fraction(1, RATE))))
        out.mux(stream.encode(None))
    return len(frames) / (time.perf_counter() - start)


def read_back(path: Path) -> list:
    return decode(path)[1]


def drain(sink, stream, out) -> None:
    while True:
        try:
            restored = sink.pull()
        except (av.error.BlockingIOError, av.error.EOFError):
            return
        out.mux(stream.encode(restored.reformat(format="yuv420p")))


def peer(source: Path, target: Path) -> float:
    """PyAV decode -> FFmpeg ``deconvolve`` (noise = 1/snr) -> libx264 CRF 18,
    audio copied; frames per second."""
    start = time.perf_counter()
    with av.open(str(source)) as src, av.open(str(target), "w") as out:
        vin = src.streams.video[0]
        vin.thread_type = "AUTO"
        ctx = vin.codec_context
        rows, cols = ctx.height, ctx.width
        stream = out.add_stream("libx264", rate=vin.average_rate)
        stream.width, stream.height, stream.pix_fmt = cols, rows, "yuv420p"
        stream.codec_context.options = {"crf": "18", "preset": "medium"}
        audio = out.add_stream_from_template(src.streams.audio[0])
        graph = av.filter.Graph()
        tb = vin.time_base
        main = graph.add_buffer(width=cols, height=rows, format="gbrp", time_base=tb)
        impulse = graph.add_buffer(width=cols, height=rows, format="gbrp", time_base=tb)
        deconvolve = graph.add("deconvolve", f"noise={1 / SNR}")
        sink = graph.add("buffersink")
        main.link_to(deconvolve, 0, 0)
        impulse.link_to(deconvolve, 0, 1)
        deconvolve.link_to(sink)
        graph.configure()
        kernel = np.zeros((rows, cols))
        kr, kc = PSF.shape
        r0, c0 = rows // 2 - kr // 2, cols // 2 - kc // 2
        kernel[r0 : r0 + kr, c0 : c0 + kc] = PSF / PSF.max()
        grey = (kernel * 255).round().astype(np.uint8)
        first = av.VideoFrame.from_ndarray(np.dstack([grey] * 3), format="rgb24")
        first = first.reformat(format="gbrp")
        first.pts, first.time_base = 0, tb
        impulse.push(first)
        impulse.push(None)  # one impulse for every frame
        for packet in src.demux(vin, src.streams.audio[0]):
            if packet.stream.type == "audio":
                if packet.size:
                    packet.stream = audio
                    out.mux(packet)
                continue
            for frame in packet.decode():
                main.push(frame.reformat(format="gbrp"))
                drain(sink, stream, out)
        main.push(None)
        drain(sink, stream, out)
        out.mux(stream.encode(None))
    return len(read_back(target)) / (time.perf_counter() - start)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument(
        "--preset", nargs="+", default=[None],
        help="libx264 presets for ours, one row each (default: medium); the peer's stays medium",
    )  # fmt: skip
    parser.add_argument("--repeat", type=int, default=1, help="rounds; medians are printed")
    parser.add_argument("--no-peer", action="store_true", help="skip the (slow) peer")
    args = parser.parse_args(argv)
    backend = resolve_backend(args.backend).name
    gpu = backend == "cupy"
    print(f"backend {backend}, {args.frames} frames per clip, batch {args.batch_size}, snr {SNR}")
    print(f"load average before: {load()}", flush=True)
    print(
        "| clip, preset, route | decode | restore BGR | restore route | encode | pipeline | "
        "pipeline / restore BGR | pipeline / restore route | CPU ms a frame: restore route / "
        "pipeline | peer | pipeline / peer | PSNR blurred / ours / peer (dB) | codec loss (dB) |"
    )
    print("| --- " + "| ---: " * 10 + "| --- | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            clip_rows(Path(tmp), size, args, gpu, backend)
    print(f"load average after: {load()}")


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


def plane_restorer(backend: str) -> PlaneRestorer:
    def make_filter(psf, channel_axis):
        return gpudeconv.Wiener(psf, snr=SNR, channel_axis=channel_axis, backend=backend)

    xp = np
    if backend == "cupy":
        import cupy as xp
    return PlaneRestorer(make_filter, PSF, xp=xp)


def decode_planes(path: Path) -> tuple[list, PlaneFormat]:
    container, info = open_source(path)
    fmt = plane_format(info.pix_fmt, info.colour.get("color_range", 0))
    to_planes = ToPlanes(fmt)
    planes = [to_planes(f) for f in container.decode(video=0)]
    container.close()
    return planes, fmt


def plane_restore_rate(restore, planes: list, fmt, batch: int) -> tuple[float, float]:
    """Frames per second and CPU seconds per frame restoring the YUV planes."""
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(planes), batch):
        chunk = planes[i : i + batch]
        restore(np.stack([p[0] for p in chunk]), np.stack([p[1] for p in chunk]), fmt)
    cpu = (time.process_time() - cpu) / len(planes)
    return len(planes) / (time.perf_counter() - start), cpu


def clip_rows(tmp: Path, size: str, args, gpu: bool, backend: str) -> None:
    """One row per preset and route for one clip size: medians over the rounds."""
    rows, cols = SIZES[size]
    clip = tmp / f"{size}.mp4"
    truth = make_clip(clip, rows, cols, args.frames)
    dec, frames, decoder = decode(clip, "cuda" if gpu else None)
    planes, fmt = decode_planes(clip)
    wiener = gpudeconv.Wiener(PSF, snr=SNR, channel_axis=-1, backend=backend)
    planar = plane_restorer(backend)
    restore_rate(wiener, frames, args.batch_size)  # plans, warms up
    plane_restore_rate(planar, planes, fmt, args.batch_size)
    presets = args.preset  # None: the encoder's default (NVENC has its own names)
    routes = {"planes": planar, "BGR": None}
    runs = {(p, r): [] for p in presets for r in routes}
    restored = encoder = None
    for _ in range(args.repeat):
        res, res_cpu, restored = restore_rate(wiener, frames, args.batch_size)
        res_planes, res_planes_cpu = plane_restore_rate(planar, planes, fmt, args.batch_size)
        for (p, route), results in runs.items():
            cpu = time.process_time()
            report = restore_video(
                clip, tmp / f"out-{p}-{route}.mp4", wiener, planar=routes[route],
                batch_size=args.batch_size, hardware=gpu, overwrite=True, preset=p,
            )  # fmt: skip
            cpu = (time.process_time() - cpu) / report.frames_written
            own = (res_planes, res_planes_cpu) if route == "planes" else (res, res_cpu)
            results.append((report.frames_per_second, res, cpu, res_cpu, *own))
            encoder, decoder = report.encoder, report.decoder
    peer_fps, q_peer = float("nan"), float("nan")
    if not args.no_peer:
        peer_fps = peer(clip, tmp / "peer.mp4")
        theirs = read_back(tmp / "peer.mp4")
        q_peer = np.mean([psnr(t, f) for t, f in zip(truth, theirs, strict=True)])
    q_blur = np.mean([psnr(t, f) for t, f in zip(truth, frames, strict=True)])
    q_restored = np.mean([psnr(t, f) for t, f in zip(truth, restored, strict=True)])
    for (p, route), results in runs.items():
        enc = encode_rate(restored, clip, tmp / "enc.mp4", gpu, p)
        ours = read_back(tmp / f"out-{p}-{route}.mp4")
        q_ours = np.mean([psnr(t, f) for t, f in zip(truth, ours, strict=True)])
        pipe = statistics.median(run[0] for run in results)
        res = statistics.median(run[1] for run in results)
        own = statistics.median(run[4] for run in results)
        ratio = statistics.median(run[0] / run[1] for run in results)
        own_ratio = statistics.median(run[0] / run[4] for run in results)
        # Load-independent: the restoration's share of the pipeline's CPU time.
        cpu_ratio = statistics.median(run[5] / run[2] for run in results)
        cpu_ms = statistics.median(run[2] for run in results) * 1000
        res_ms = statistics.median(run[5] for run in results) * 1000
        where = f"{decoder} -> {encoder}" if gpu else f"H.264 -> {encoder}"
        default = "default preset" if gpu else "medium"
        print(
            f"| {size} {where}, {p or default}, {route} | "
            f"{dec:.0f} | {res:.1f} | {own:.1f} | {enc:.1f} | "
            f"{pipe:.1f} | {ratio:.0%} | {own_ratio:.0%} | "
            f"{res_ms:.0f} / {cpu_ms:.0f} = {cpu_ratio:.0%} | "
            f"{peer_fps:.1f} | {pipe / peer_fps:.1f}x | "
            f"{q_blur:.2f} / {q_ours:.2f} / {q_peer:.2f} | {q_restored - q_ours:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
