"""``gpudeconv video``: restore every frame of a video."""

from __future__ import annotations

import sys

from ..media.video import restore_video
from . import options


def register(sub, parents) -> None:
    """Add the ``video`` subcommand; ``parents`` are the restore options (for the
    commands that restore) and ``--debug``."""
    video = sub.add_parser(
        "video",
        parents=parents,
        help="restore every frame of a video (audio is not kept)",
        description="Restore every frame of a video into a new video with the same frame "
        "size and rate. Decoding, restoring and encoding overlap; memory stays flat for any "
        "length. The codec follows OUTPUT's extension (.mp4/.mov/.m4v: mp4v, .avi: MJPG, "
        ".mkv: XVID) unless --fourcc is given. OpenCV does not carry audio: the output has "
        "none (mux it back with ffmpeg if needed). A failed run leaves no file at OUTPUT.",
    )
    video.add_argument("input", metavar="INPUT", help="a video file OpenCV can decode")
    video.add_argument("output", metavar="OUTPUT", help="the restored video")
    video.add_argument("--fourcc", metavar="CODE", help="four-character codec, e.g. mp4v, MJPG")
    video.set_defaults(run=run)


def estimate_from_clip(args):
    """``--psf auto``: one estimate from frames spread over the clip, said aloud."""
    from ..estimate.psf import estimate_psf
    from ..media.sample import sample_video_frames

    frames = sample_video_frames(args.input)
    estimate = estimate_psf(frames, channel_axis=-1, frame_axis=0, backend=args.backend)
    options.report_estimate("video", f"{args.input} ({len(frames)} frames sampled)", estimate)
    return options.with_psf(args, estimate.psf)


def run(args) -> int:
    if options.is_auto(args.psf):
        args = estimate_from_clip(args)
    client = options.client(args)
    try:
        if client is None:
            restore, queue_batches = options.restorer(args, -1), 3
        else:
            restore = options.remote_task(args, -1)
            queue_batches = max(3, 2 * sum(client.nthreads().values()))
        report = restore_video(
            args.input,
            args.output,
            restore,
            batch_size=args.batch_size,
            fourcc=args.fourcc,
            overwrite=args.overwrite,
            progress=not args.quiet,
            queue_batches=queue_batches,
            executor=client,
        )
    finally:
        if client is not None:
            client.close()
    if not args.quiet:
        rows, cols = report.size
        where = f" on {args.scheduler}" if client is not None else ""
        line = (
            f"gpudeconv video: wrote {report.frames_written} frames ({cols}x{rows} at "
            f"{report.fps:g} fps) to {args.output} in {report.seconds:.1f} s{where}: "
            f"{report.frames_per_second:.1f} frames/s overall"
        )
        if report.restore_seconds:
            line += f", restoring alone {report.frames_written / report.restore_seconds:.1f}"
            line += " frames/s"
        print(line, file=sys.stderr)
    return 0
