"""Restoring a video: decode, restore and encode overlap.

A reader thread decodes frames into batches, the calling thread restores each
batch (on the GPU when there is one), a writer thread encodes; bounded queues
between them keep memory flat for any length of video. The output goes to a
temporary file beside the target and is renamed only when every frame read
has been written: a failed run leaves nothing at the output path.

OpenCV reads and writes pictures only: audio is not carried over.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .folders import IMAGE_SUFFIXES
from .images import partial_file

#: Codec by output extension; ``fourcc=`` overrides.
FOURCC_BY_SUFFIX = {
    ".mp4": "mp4v",
    ".m4v": "mp4v",
    ".mov": "mp4v",
    ".avi": "MJPG",
    ".mkv": "XVID",
}
_DONE = object()


@dataclass
class VideoReport:
    frames_read: int
    frames_written: int
    fps: float
    size: tuple[int, int]
    seconds: float
    restore_seconds: float  # time spent restoring locally (0 with an executor)

    @property
    def frames_per_second(self) -> float:
        return self.frames_written / self.seconds if self.seconds else float("inf")


def fourcc_for(path: Path, fourcc: str | None) -> str:
    if fourcc:
        if len(fourcc) != 4:
            raise ValueError(f"fourcc must be 4 characters such as mp4v or MJPG, got {fourcc!r}")
        return fourcc
    try:
        return FOURCC_BY_SUFFIX[path.suffix.lower()]
    except KeyError:
        raise ValueError(
            f"no default codec for {path.suffix or 'a name without extension'}; use one of "
            f"{', '.join(FOURCC_BY_SUFFIX)} or pass --fourcc"
        ) from None


def restore_video(
    source,
    target,
    restore: Callable[[np.ndarray], np.ndarray],
    *,
    batch_size: int = 8,
    fourcc: str | None = None,
    overwrite: bool = False,
    progress: bool = False,
    queue_batches: int = 3,
    executor=None,
) -> VideoReport:
    """Restore every frame of ``source`` into ``target`` (same size and rate).

    ``restore`` takes a batch ``(N, rows, cols, 3)`` of BGR uint8 frames and
    returns it restored (e.g. ``gpudeconv.Wiener(psf, channel_axis=-1)``).
    With an ``executor`` (anything with ``submit(fn, arg)`` returning a
    future, such as a ``distributed.Client``), batches are restored
    remotely, up to ``queue_batches`` at a time, and written in order.
    """
    from tqdm import tqdm

    source, target = Path(source), Path(target)
    if not source.is_file():
        raise FileNotFoundError(f"no such video: {source}")
    if source.suffix.lower() in IMAGE_SUFFIXES:
        raise ValueError(f"{source} is an image, not a video; use 'gpudeconv deblur' for images")
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; pass --overwrite to replace it")
    code = fourcc_for(target, fourcc)
    capture = cv2.VideoCapture(str(source))
    try:
        ok, first = capture.read() if capture.isOpened() else (False, None)
        if not ok or first is None:
            raise ValueError(f"cannot read {source} as a video (no decodable frames)")
        fps = capture.get(cv2.CAP_PROP_FPS)
        if not fps or not np.isfinite(fps) or fps <= 0:
            fps = 25.0
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        total = int(count) if 0 < count < 2**40 else None  # some containers do not say
        rows, cols = first.shape[:2]
        target.parent.mkdir(parents=True, exist_ok=True)
        with partial_file(target) as partial:
            writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*code), fps, (cols, rows))
            if not writer.isOpened():
                raise ValueError(f"OpenCV cannot write {code!r} video to {target}")
            bar = tqdm(total=total, unit="frame", disable=not progress, leave=False)
            try:
                report = _pipeline(
                    capture, first, writer, restore, batch_size, queue_batches, bar, executor
                )
            finally:
                writer.release()
                bar.close()
            if report.frames_written != report.frames_read:
                raise RuntimeError(
                    f"wrote {report.frames_written} frames but read {report.frames_read}"
                )
    finally:
        capture.release()
    report.fps, report.size = fps, (rows, cols)
    return report


def _pipeline(
    capture, first, writer, restore, batch_size, queue_batches, bar, executor=None
) -> VideoReport:
    decoded: queue.Queue = queue.Queue(maxsize=queue_batches)
    restored: queue.Queue = queue.Queue(maxsize=queue_batches)
    stop = threading.Event()
    errors: list[BaseException] = []
    counts = {"read": 0, "written": 0}

    def put(q, item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read():
        try:
            batch = [first]
            counts["read"] = 1
            while not stop.is_set():
                ok, frame = capture.read()
                if not ok:
                    break
                counts["read"] += 1
                batch.append(frame)
                if len(batch) == batch_size:
                    if not put(decoded, batch):
                        return
                    batch = []
            if batch:
                put(decoded, batch)
        except BaseException as exc:  # surfaced by the main thread
            errors.append(exc)
        finally:
            put(decoded, _DONE)

    def write():
        try:
            while True:
                item = restored.get()
                if item is _DONE:
                    return
                if not isinstance(item, np.ndarray):  # a future: waited for in order
                    item = item.result()
                for frame in item:
                    writer.write(frame)
                    counts["written"] += 1
                bar.update(len(item))
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    reader = threading.Thread(target=read, name="gpudeconv-decode", daemon=True)
    encoder = threading.Thread(target=write, name="gpudeconv-encode", daemon=True)
    start = time.perf_counter()
    restore_seconds = 0.0
    reader.start()
    encoder.start()
    try:
        while not errors:
            try:
                batch = decoded.get(timeout=0.1)
            except queue.Empty:
                continue
            if batch is _DONE:
                break
            if executor is None:
                began = time.perf_counter()
                frames = restore(np.stack(batch))
                restore_seconds += time.perf_counter() - began
            else:  # a future; the writer waits for it in order
                extra = {"pure": False} if _is_dask(executor) else {}
                frames = executor.submit(restore, np.stack(batch), **extra)
            if not put(restored, frames):
                break
    except BaseException:
        stop.set()
        raise
    finally:
        if not stop.is_set():
            put(restored, _DONE)
        else:
            _drain(restored)
            restored.put(_DONE)
        encoder.join()
        stop.set()
        _drain(decoded)
        reader.join()
    if errors:
        raise errors[0]
    return VideoReport(
        counts["read"],
        counts["written"],
        0.0,
        (0, 0),
        time.perf_counter() - start,
        restore_seconds,
    )


def _drain(q: queue.Queue) -> None:
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            return


def _is_dask(executor) -> bool:
    return type(executor).__module__.startswith("distributed")
