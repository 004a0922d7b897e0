"""``gpudeconv video``: restore every frame of a video, keep everything else."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

import numpy as np

from ..media.video import restore_video
from . import options


class _FourccGone(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(
            "--fourcc is gone: the video is written with FFmpeg's encoders; use --codec "
            "(h264, hevc, av1 or an FFmpeg encoder such as mpeg4 or mjpeg)"
        )


def _quality(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"--crf must be a number >= 0, got {text!r}")
    return value


def register(sub, parents) -> None:
    """Add the ``video`` subcommand; ``parents`` are the restore options (for the
    commands that restore) and ``--debug``."""
    video = sub.add_parser(
        "video",
        parents=parents,
        help="restore every frame of a video (audio and other streams are kept)",
        description="Restore every frame of a video into a new one with the same frame size, "
        "rate, time stamps, colour tags and rotation; audio, subtitle and data streams are "
        "copied packet for packet (no re-encoding, exact sync). H.264 (libx264, CRF 18, preset "
        "medium) by default for .mp4/.mov/.mkv/.avi, AV1 for .webm; on the GPU path NVDEC and "
        "NVENC when they open. 10-bit input is restored in 16 bits and written as 10-bit. A failed "
        "or interrupted run leaves nothing at OUTPUT; a truncated input keeps every decodable "
        "frame and exits 1. With --snr auto the choice is made per frame and smoothed over "
        "time. Wiener restores a YUV video's own planes (no colour conversion, chroma at its "
        "own resolution: about twice as fast as BGR frames, same quality); the other methods "
        "restore BGR frames.",
    )
    video.add_argument("input", metavar="INPUT", help="a video file FFmpeg can decode")
    video.add_argument("output", metavar="OUTPUT", help="the restored video (not INPUT)")
    group = video.add_argument_group("encoding")
    group.add_argument(
        "--codec",
        metavar="NAME",
        help="h264 (default), hevc, av1 or any FFmpeg encoder name (e.g. libx264, ffv1)",
    )
    group.add_argument(
        "--crf",
        type=_quality,
        metavar="Q",
        help="constant quality, lower is better (default: 18 for H.264, 20 H.265, 30 AV1)",
    )
    group.add_argument(
        "--preset",
        metavar="NAME",
        help="encoder speed (default: medium for libx264/libx265, 8 for SVT-AV1, p5 NVENC); "
        "veryfast runs faster where the CPU also restores (see the README)",
    )
    group.add_argument("--fourcc", nargs="?", action=_FourccGone, help=argparse.SUPPRESS)
    video.set_defaults(run=run)


def estimate_from_clip(args):
    """``--psf auto``: one estimate from frames spread over the clip, said aloud."""
    from ..estimate.psf import estimate_psf
    from ..media.sample import sample_video_frames

    frames = sample_video_frames(args.input)
    estimate = estimate_psf(frames, channel_axis=-1, frame_axis=0, backend=args.backend)
    options.report_estimate("video", f"{args.input} ({len(frames)} frames sampled)", estimate)
    return options.with_psf(args, estimate.psf)


@contextlib.contextmanager
def _terminate_cleanly():
    """SIGTERM unwinds like Ctrl-C (KeyboardInterrupt), so that the partial
    output is removed; the default action would kill the process on the spot."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once is enough: clean up
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _local_restorer(args):
    if args.method == "wiener" and args.snr == "auto":
        from .video_snr import SmoothedAutoWiener

        return SmoothedAutoWiener(args.psf, **options.method_options(args, -1))
    return options.restorer(args, -1)


def _plane_restorer(args):
    """Wiener restores a YUV stream's own planes (see ``video_planes``); the
    iterative methods, not linear, restore BGR frames."""
    if args.method != "wiener":
        return None
    from .video_planes import PlaneRestorer, wiener_filters

    settings = options.method_options(args, None)
    xp = np
    if _uses_gpu(args):
        import cupy as xp
    auto = settings["snr"] == "auto"
    return PlaneRestorer(wiener_filters(settings), args.psf, auto=auto, xp=xp)


def _remote_planes(args):
    """Wiener with a fixed snr restores YUV planes remotely too; with auto the
    remote choice is per frame on BGR frames, as for images."""
    settings = options.method_options(args, None)
    if args.method != "wiener" or settings["snr"] == "auto":
        return None
    from .video_planes import RemotePlanes

    return RemotePlanes(args.psf, settings)


def _uses_gpu(args) -> bool:
    from ..engine.dispatch import resolve_backend

    try:
        return resolve_backend(args.backend).name == "cupy"
    except (RuntimeError, ValueError):
        return False


def run(args) -> int:
    if options.is_auto(args.psf):
        args = estimate_from_clip(args)
    with _terminate_cleanly():
        client = options.client(args)
        try:
            if client is None:
                restore, queue_batches = _local_restorer(args), 3
                planar = _plane_restorer(args)
            else:
                restore = options.remote_task(args, -1)
                planar = _remote_planes(args)
                queue_batches = max(3, 2 * sum(client.nthreads().values()))
            hardware = client is None and _uses_gpu(args)
            report = restore_video(
                args.input,
                args.output,
                restore,
                planar=planar,
                batch_size=args.batch_size,
                codec=args.codec,
                crf=args.crf,
                preset=args.preset,
                hardware=hardware,
                overwrite=args.overwrite,
                progress=not args.quiet,
                queue_batches=queue_batches,
                executor=client,
            )
        finally:
            if client is not None:
                client.close()
    if report.dropped:  # said even with --quiet: something of the input is not in OUTPUT
        options.error(
            "video",
            f"warning: {args.output} cannot hold {', '.join(report.dropped)}: left out "
            "(.mkv holds every kind of stream)",
        )
    if report.incomplete:
        declared = report.frames_declared
        said = f"{declared}" if report.declared_exact else f"about {declared}"
        damage = f"; {report.decode_errors[0]}" if report.decode_errors else ""
        options.error(
            "video",
            f"error: {args.input} is truncated or damaged: read {report.frames_read} frames "
            f"of {said if declared else 'an unknown number'} declared{damage}; "
            f"{args.output} holds the {report.frames_written} that decoded",
        )
    if not args.quiet:
        rows, cols = report.size
        where = f" on {args.scheduler}" if client is not None else ""
        streams = ", ".join(report.copied) or "none"
        line = (
            f"gpudeconv video: wrote {report.frames_written} frames ({cols}x{rows} at "
            f"{report.fps:g} fps, {report.encoder}"
            + (f", decoded with {report.decoder}" if hardware else "")
            + f", restored as {report.restored_as}) to {args.output} in "
            f"{report.seconds:.1f} s{where}: {report.frames_per_second:.1f} frames/s overall"
        )
        if report.restore_seconds:
            line += f", restoring alone {report.frames_written / report.restore_seconds:.1f}"
            line += " frames/s"
        print(f"{line}; streams copied: {streams}", file=sys.stderr)
        history = getattr(planar if "planes" in report.restored_as else restore, "history", None)
        if history is not None and len(history):  # --snr auto, restored here: its choices
            values = np.ravel(history)
            print(
                f"gpudeconv video: snr auto chose {values.min():.3g} to {values.max():.3g} "
                f"(median {np.median(values):.3g}, smoothed over time) for {len(history)} frames",
                file=sys.stderr,
            )
    return 1 if report.incomplete else 0
