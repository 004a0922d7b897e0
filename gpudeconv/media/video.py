"""Restoring a video: decode, restore and encode overlap; everything else is kept.

A reader thread decodes frames into batches (PyAV, threaded decoding), the
calling thread restores each batch (on the GPU when there is one), a writer
thread encodes and muxes; bounded queues between them keep memory flat for
any length of video. Audio, subtitle and data streams are copied packet for
packet with their time stamps, and every frame keeps its own time stamp, so
sync and variable frame rates survive exactly.

The output goes to a temporary file beside the target and is renamed only
when the encoder and the container have both finished: a failed or
interrupted run leaves nothing at the output path or beside it. A truncated
or damaged input still gives an output with every decodable frame; the
report says how many were read out of how many the container declared.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from .images import partial_file
from .video_planes import PlaneFormat, ToPlanes, plane_format
from .video_read import Source, check_paths, demux, open_source
from .video_threads import DONE, Worker, finish
from .video_write import (
    Encoder,
    choose_encoder,
    codec_for,
    open_output,
    plane_video_frame,
    video_frame,
)

__all__ = ["VideoReport", "restore_video"]


@dataclass
class VideoReport:
    frames_read: int
    frames_written: int
    fps: float
    size: tuple[int, int]  # rows, cols
    seconds: float
    restore_seconds: float  # time spent restoring locally (0 with an executor)
    frames_declared: int | None = None
    declared_exact: bool = False
    decode_errors: list[str] = field(default_factory=list)
    encoder: str = ""
    decoder: str = ""
    restored_as: str = ""  # "bgr24", "bgr48le" or e.g. "yuv420p planes"
    copied: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    @property
    def frames_per_second(self) -> float:
        return self.frames_written / self.seconds if self.seconds else float("inf")

    @property
    def incomplete(self) -> bool:
        """True when the input held fewer decodable frames than it declared
        (a truncated or damaged file)."""
        if self.decode_errors:
            return True
        if self.frames_declared is None:
            return False
        slack = 0 if self.declared_exact else 1  # a duration rounds to +-1 frame
        return self.frames_read < self.frames_declared - slack


@dataclass
class _Batch:
    frames: list = field(default_factory=list)  # BGR arrays or (luma, chroma) planes
    pts: list = field(default_factory=list)
    packets: list = field(default_factory=list)  # copied streams' packets, in file order


def restore_video(
    source,
    target,
    restore: Callable[[np.ndarray], np.ndarray],
    *,
    planar: Callable | None = None,
    batch_size: int = 8,
    codec: str | None = None,
    crf: float | None = None,
    preset: str | None = None,
    hardware: bool = False,
    hwaccel: str = "cuda",
    overwrite: bool = False,
    progress: bool = False,
    queue_batches: int = 3,
    executor=None,
    opener=None,
) -> VideoReport:
    """Restore every frame of ``source`` into ``target``; copy its other streams.

    Parameters
    ----------
    source, target : path
        ``target`` must not be ``source`` (also through links).
    restore : callable
        Takes a batch ``(N, rows, cols, 3)`` of BGR frames, uint8, or uint16
        for inputs deeper than 8 bits, and returns it restored (e.g.
        ``gpudeconv.Wiener(psf, channel_axis=-1)``).
    planar : callable, optional
        Restores the stream's own YUV planes instead, when it has three
        (planar or semi-planar YUV, the usual case; ``restore`` takes any
        other): called with ``(luma (N, rows, cols), chroma (N, 2, rows',
        cols'), PlaneFormat)`` in the stream's own values (uint8, or uint16
        holding ``PlaneFormat.bits`` bits) and returns both restored, same
        shapes and dtype. No colour conversion either way: faster (see
        ``gpudeconv.commands.video_planes.PlaneRestorer``). With an
        ``executor`` it must be picklable (``RemotePlanes``).
    codec : str, optional
        ``"h264"`` (default for .mp4/.mov/.mkv/.avi), ``"hevc"``, ``"av1"``
        (default for .webm) or any FFmpeg encoder name.
    crf, preset : optional
        The encoder's constant quality and speed (libx264: CRF 18, medium).
    hardware : bool
        When the restoration runs on the GPU: decode on ``hwaccel`` (NVDEC)
        and try NVIDIA's NVENC first; either falls back to software when it
        cannot open here (``report.decoder`` and ``report.encoder`` say
        which ran). The frames reach ``restore`` the same either way.
    hwaccel : str
        The FFmpeg device type decoded on with ``hardware`` (``"cuda"``).
    executor : optional
        Anything with ``submit(fn, arg)`` returning a future, such as a
        ``distributed.Client``: batches are restored remotely, up to
        ``queue_batches`` at a time, and written in order.
    opener : callable, optional
        Replaces the encoder probe (tests simulate a failing NVENC with it).

    Returns
    -------
    VideoReport
        Counts (read, written, declared), rate, size, timings, the encoder and
        the streams copied or left out. ``report.incomplete`` is True for a
        truncated or damaged input; the output then holds every decodable
        frame.
    """
    source, target = check_paths(source, target, overwrite=overwrite)
    codec_name = codec_for(target.suffix, codec)
    container, info = open_source(source, hwaccel if hardware else None)
    try:
        extra = {} if opener is None else {"opener": opener}
        encoder = choose_encoder(
            info, codec_name, crf=crf, preset=preset, hardware=hardware, **extra
        )
        errors: list[str] = []
        # The host's cores convert frames faster together where the GPU restores.
        threads = 0 if hardware else 1
        fmt = None
        if planar is not None:
            fmt = plane_format(info.pix_fmt, info.colour.get("color_range", 0))
        to_array = ToPlanes(fmt) if fmt is not None else None
        copied = {s.index for s in info.others}
        items = demux(container, info, copied, errors, threads, to_array)
        first = _Batch()
        rotation = 0.0
        for item in items:
            if item[0] == "packet":
                first.packets.append(item[1])
                continue
            _, array, pts, rotation = item
            first.frames.append(array)
            first.pts.append(pts)
            break
        if not first.frames:
            detail = f": {errors[0]}" if errors else ""
            raise ValueError(f"cannot read {source} as a video (no decodable frames{detail})")
        target.parent.mkdir(parents=True, exist_ok=True)
        with partial_file(target) as partial:
            output, stream, copies, dropped = open_output(
                partial, info, encoder, rotation or 0.0, container
            )
            try:
                report = _pipeline(
                    items, first, info, encoder, output, stream, copies,
                    (restore, planar, fmt), batch_size, queue_batches, progress, executor,
                    target, threads,
                )  # fmt: skip
            except BaseException:
                _close_quietly(output)
                raise
            report.copied = [
                f"{s.type} ({s.codec_context.name})" for s in info.others if s.index in copies
            ]
            try:
                output.close()  # writes the trailer: can fail on a full disk
            except (av.FFmpegError, OSError) as exc:
                raise OSError(f"cannot finish {target}: {_reason(exc)}") from None
    finally:
        container.close()
    report.fps, report.size = float(info.rate), (info.height, info.width)
    report.frames_declared, report.declared_exact = info.declared, info.declared_exact
    report.decode_errors = errors
    report.encoder = encoder.describe()
    report.decoder = info.decoder
    report.restored_as = f"{fmt.pix_fmt} planes" if fmt is not None else info.array_format
    report.dropped = dropped
    return report


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def _close_quietly(output) -> None:
    try:
        output.close()
    except (av.FFmpegError, OSError):
        pass  # the first error is the one reported


class _Stamps:
    """Each frame's own time stamp (variable frame rates survive); made up
    only where the input has none or goes backwards, which encoders refuse."""

    def __init__(self, info: Source):
        self.step = max(1, round(1 / (info.rate * info.time_base)))
        self.last = None

    def __call__(self, pts):
        if pts is None or (self.last is not None and pts <= self.last):
            pts = 0 if self.last is None else self.last + self.step
        self.last = pts
        return pts


def _pipeline(
    items, first, info, encoder: Encoder, output, stream, copies,
    restorers, batch_size, queue_batches, progress, executor, target, threads,
) -> VideoReport:  # fmt: skip
    from tqdm import tqdm

    decoded: queue.Queue = queue.Queue(maxsize=queue_batches)
    restored: queue.Queue = queue.Queue(maxsize=queue_batches)
    stop = threading.Event()
    errors: list[BaseException] = []
    counts = {"read": 1, "written": 0}
    stamps = _Stamps(info)
    bar = tqdm(total=info.declared, unit="frame", disable=not progress, leave=False)

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
            batch = first
            if len(batch.frames) >= batch_size:
                if not put(decoded, batch):
                    return
                batch = _Batch()
            for item in items:
                if stop.is_set():
                    return
                if item[0] == "packet":
                    batch.packets.append(item[1])
                    continue
                batch.frames.append(item[1])
                batch.pts.append(item[2])
                counts["read"] += 1
                if len(batch.frames) >= batch_size:
                    if not put(decoded, batch):
                        return
                    batch = _Batch()
            if batch.frames or batch.packets:
                put(decoded, batch)
        except BaseException as exc:  # surfaced by the main thread
            errors.append(exc)
        finally:
            put(decoded, DONE)

    def mux(packets):
        for packet in packets:
            output.mux(packet)

    reformatter = VideoReformatter()  # the writer thread's own

    restore, planar, fmt = restorers

    def encode(array, pts):
        if fmt is None:
            frame = video_frame(
                array, info, encoder, stamps(pts), info.time_base, reformatter, threads
            )
        else:
            frame = plane_video_frame(
                array, fmt, info, encoder, stamps(pts), info.time_base, reformatter, threads
            )
        mux(stream.encode(frame))

    def write():
        try:
            while True:
                item = restored.get()
                if item is DONE:
                    break
                batch, frames = item
                if hasattr(frames, "result"):
                    frames = frames.result()  # a future: waited for in order
                    if fmt is not None:
                        frames = list(zip(*frames, strict=True))  # (luma, chroma) pairs
                frames = () if frames is None else frames  # a batch of packets only
                for array, pts in zip(frames, batch.pts, strict=False):
                    if stop.is_set():
                        return
                    _write(lambda a=array, p=pts: encode(a, p), counts["written"] + 1)
                    counts["written"] += 1
                for packet in batch.packets:
                    if packet.stream.index in copies:
                        packet.stream = copies[packet.stream.index]
                        _write(lambda p=packet: output.mux(p), counts["written"])
                bar.update(len(batch.pts))
            if not stop.is_set():
                _write(lambda: mux(stream.encode(None)), counts["written"])  # flush
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    def _write(action, frame_number):
        try:
            action()
        except (av.FFmpegError, OSError) as exc:
            raise OSError(
                f"cannot write frame {frame_number} to {target}: {_reason(exc)}"
            ) from None

    reader = Worker(read, "gpudeconv-decode")
    writer = Worker(write, "gpudeconv-encode")
    start = time.perf_counter()
    restore_seconds = 0.0
    reader.start()
    writer.start()
    try:
        while not errors:
            try:
                batch = decoded.get(timeout=0.1)
            except queue.Empty:
                continue
            if batch is DONE:
                break
            frames = None
            if batch.frames and executor is None:
                began = time.perf_counter()
                frames = _restore_batch(batch.frames, restore, planar, fmt)
                restore_seconds += time.perf_counter() - began
            elif batch.frames:  # a future; the writer waits for it in order
                extra = {"pure": False} if _is_dask(executor) else {}
                if fmt is None:
                    task = (restore, np.stack(batch.frames))
                else:
                    task = (planar, *_stack_planes(batch.frames), fmt)
                frames = executor.submit(*task, **extra)
            if not put(restored, (batch, frames)):
                break
    except BaseException:
        stop.set()
        raise
    finally:
        finish(stop, put, restored, decoded, writer, reader)
        bar.close()
    if errors:
        raise errors[0]
    if counts["written"] != counts["read"]:
        raise RuntimeError(f"wrote {counts['written']} frames but read {counts['read']}")
    return VideoReport(
        counts["read"], counts["written"], 0.0, (0, 0), time.perf_counter() - start,
        restore_seconds,
    )  # fmt: skip


def _stack_planes(frames: list) -> tuple[np.ndarray, np.ndarray]:
    return np.stack([f[0] for f in frames]), np.stack([f[1] for f in frames])


def _restore_batch(frames: list, restore, planar, fmt: PlaneFormat | None):
    if fmt is None:
        return restore(np.stack(frames))
    luma, chroma = planar(*_stack_planes(frames), fmt)
    return list(zip(luma, chroma, strict=True))


def _is_dask(executor) -> bool:
    return type(executor).__module__.startswith("distributed")
