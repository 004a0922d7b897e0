"""Which stage limits ``gpudeconv video``: decoding, restoring or encoding?

    python benchmarks/video_pipeline.py [--frames 90] [--backend auto]

For 720p and 1080p clips (the built-in photo tiled, blurred, written as MJPG
AVI and mp4v MP4), measures each stage alone in frames per second, then the
whole threaded pipeline (``gpudeconv.media.video.restore_video``). The slowest stage
alone is what the pipeline can at best reach.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gpudeconv  # noqa: E402
from gpudeconv.commands.bench import frames as tiled_frames  # noqa: E402
from gpudeconv.engine.dispatch import resolve_backend  # noqa: E402
from gpudeconv.media.video import restore_video  # noqa: E402

SIZES = {"720p": (720, 1280), "1080p": (1080, 1920)}


def make_clip(path: Path, fourcc: str, rows: int, cols: int, n: int) -> None:
    base = tiled_frames("1080p", 1)[0]
    base = cv2.resize(base, (cols, rows), interpolation=cv2.INTER_AREA)
    kernel = gpudeconv.psf.motion(15, 30)
    blurred = gpudeconv.blur(base, kernel, channel_axis=-1, backend="numpy")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 30.0, (cols, rows))
    for i in range(n):
        writer.write(np.roll(blurred, 3 * i, axis=1))
    writer.release()


def decode_fps(path: Path) -> tuple[float, list]:
    capture = cv2.VideoCapture(str(path))
    frames, start = [], time.perf_counter()
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return len(frames) / (time.perf_counter() - start), frames


def restore_fps(frames: list, backend: str, batch: int) -> float:
    restore = gpudeconv.Wiener(gpudeconv.psf.motion(15, 30), channel_axis=-1, backend=backend)
    restore(np.stack(frames[:batch]))
    start = time.perf_counter()
    for i in range(0, len(frames), batch):
        restore(np.stack(frames[i : i + batch]))
    return len(frames) / (time.perf_counter() - start)


def encode_fps(frames: list, path: Path, fourcc: str) -> float:
    rows, cols = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 30.0, (cols, rows))
    start = time.perf_counter()
    for frame in frames:
        writer.write(frame)
    writer.release()
    return len(frames) / (time.perf_counter() - start)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args(argv)
    backend = resolve_backend(args.backend).name
    print(f"backend {backend}, {args.frames} frames per clip, batch {args.batch_size}")
    print("| clip | decode | restore | encode | pipeline | limited by |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for size, (rows, cols) in SIZES.items():
            for suffix, fourcc in ((".avi", "MJPG"), (".mp4", "mp4v")):
                clip = Path(tmp) / f"clip{suffix}"
                make_clip(clip, fourcc, rows, cols, args.frames)
                dec, frames = decode_fps(clip)
                res = restore_fps(frames, backend, args.batch_size)
                enc = encode_fps(frames, Path(tmp) / f"enc{suffix}", fourcc)
                restore = gpudeconv.Wiener(
                    gpudeconv.psf.motion(15, 30), channel_axis=-1, backend=backend
                )
                report = restore_video(
                    clip,
                    Path(tmp) / f"out{suffix}",
                    restore,
                    batch_size=args.batch_size,
                    overwrite=True,
                )
                stages = {"decode": dec, "restore": res, "encode": enc}
                slowest = min(stages, key=stages.get)
                print(
                    f"| {size} {fourcc} | {dec:.0f} | {res:.1f} | {enc:.0f} | "
                    f"{report.frames_per_second:.1f} | {slowest} |"
                )


if __name__ == "__main__":
    main()
