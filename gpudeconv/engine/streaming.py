"""Host in, host out on an accelerator: upload, compute and download overlapped.

The orchestration is written against a small device interface (:class:`Device`)
so that the same code drives CuPy (:class:`gpudeconv.engine.cuda.CupyDevice`)
and, on machines without a GPU, :class:`gpudeconv.engine.devices.SimulatedDevice`,
whose copies complete late and out of order: CI runs every ordering, draining,
retry and error path below.

A :class:`Lane` is three streams and a few slots of staging buffers, kept
across calls (a :class:`LanePool` per backend hands one lane to each call, so
threads never share one):

- every kernel and FFT of a call runs on the lane's one *compute* stream.
  CuPy caches cuFFT plans per thread without the stream in the key and each
  plan owns one work area (CuPy issue #8079), so two streams computing at once
  could share scratch memory; one compute stream makes that impossible. The
  cache key holds the batch count, so a plan is never run on another batch.
- an *upload* and a *download* stream move data, ordered by events:

  ======================  =====================================================
  upload of slot s        waits until compute has finished reading slot s
  compute of slot s       waits for its upload, and for the previous download
                          of slot s (its device output is then free)
  download of slot s      waits for its compute
  host, slot s            waits for its download before reading the pinned
                          output, and for its upload before refilling the
                          pinned input
  ======================  =====================================================

Every stream is drained in a ``finally``, so no copy is left in flight over a
buffer that an error path or the next call reuses.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
from typing import Any, Protocol

import numpy as np

from . import chunks as _chunks
from .arrays import parallel_copy

__all__ = ["Device", "Lane", "LanePool", "run_streamed", "HOST_CHUNK_BYTES", "SLOTS"]

# Staging per slot stays modest: enough to keep the copy engines busy, little
# page-locked memory (3 slots x in + out = 192 MiB at most per lane).
HOST_CHUNK_BYTES = 32 * 2**20
SLOTS = 3
# A call is split into at least this many chunks (when it has the frames), so
# that the upload of one, the compute of the next and the download of a third
# overlap even when the whole call would fit one chunk.
MIN_CHUNKS = 4


class Device(Protocol):
    """What the streamed pipeline needs of an accelerator.

    Streams have ``synchronize()``, ``wait_event(event)`` and are context
    managers making themselves current for the kernels launched inside;
    events have ``record(stream)`` and ``synchronize()``. Buffers are 1-D
    ``uint8`` arrays: ``empty`` on the device, ``pinned`` page-locked on the
    host (a NumPy array).
    """

    def stream(self, kind: str) -> Any: ...  # kind: "copy" or "compute"

    def event(self) -> Any: ...

    def current_stream(self) -> Any: ...

    def empty(self, nbytes: int) -> Any: ...

    def pinned(self, nbytes: int) -> np.ndarray: ...

    def upload(self, dst, src: np.ndarray, stream) -> None: ...

    def download(self, dst: np.ndarray, src, stream) -> None: ...


class _Slot:
    """Staging buffers for one chunk in flight, and the events that guard them."""

    def __init__(self, device: Device):
        self.uploaded = device.event()
        self.computed = device.event()
        self.downloaded = device.event()
        self.buffers: dict[str, Any] = {}
        self.pending: tuple | None = None  # (caller index, pinned output) to collect


class Lane:
    """One compute stream, an upload and a download stream, and ``slots`` of
    staging buffers, reused from call to call."""

    def __init__(self, device: Device, slots: int = SLOTS):
        self.device = device
        self.upload = device.stream("copy")
        self.compute = device.stream("compute")
        self.download = device.stream("copy")
        self.slots = [_Slot(device) for _ in range(slots)]
        self.follow = device.event()
        self.idle = True  # nothing in flight: safe to hand to another call

    @property
    def streams(self) -> tuple:
        return (self.upload, self.compute, self.download)

    def buffer(self, slot: _Slot, name: str, shape, dtype, *, pinned: bool):
        """A ``shape`` x ``dtype`` view of the slot's buffer ``name``, grown
        when too small (after draining, since copies may still use the old one)."""
        dtype = np.dtype(dtype)
        nbytes = max(1, math.prod(shape) * dtype.itemsize)
        raw = slot.buffers.get(name)
        if raw is None or raw.nbytes < nbytes:
            if raw is not None:
                self.synchronize()
            slot.buffers[name] = None  # free the old buffer before allocating
            raw = self.device.pinned(nbytes) if pinned else self.device.empty(nbytes)
            slot.buffers[name] = raw
        return raw[:nbytes].view(dtype).reshape(shape)

    def synchronize(self) -> None:
        """Wait for every stream; raise the first error after waiting for all."""
        error = None
        for stream in self.streams:
            try:
                stream.synchronize()
            except Exception as exc:  # a failed kernel: still wait for the others
                error = error or exc
        if error is not None:
            raise error

    def collect(self, slot: _Slot, out) -> None:
        """Copy the slot's finished download into ``out`` (after waiting for it)."""
        if slot.pending is None:
            return
        slot.downloaded.synchronize()
        caller_index, pinned_out = slot.pending
        slot.pending = None
        parallel_copy(out[caller_index], pinned_out)

    def drain(self, out) -> None:
        """Wait for everything in flight and collect every slot's result."""
        self.synchronize()
        for slot in self.slots:
            self.collect(slot, out)

    def abandon(self) -> None:
        """After an error: wait for every stream, drop uncollected results."""
        for slot in self.slots:
            slot.pending = None
        self.synchronize()

    def release(self) -> None:
        """Drop the staging buffers (after an out-of-memory error)."""
        self.synchronize()
        for slot in self.slots:
            slot.buffers.clear()


class LanePool:
    """Lanes kept across calls; each call takes one for itself (thread-safe)."""

    def __init__(self, device: Device, slots: int = SLOTS):
        self.device = device
        self.slots = slots
        self._free: list[Lane] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def lane(self):
        with self._lock:
            lane = self._free.pop() if self._free else None
        if lane is None:
            lane = Lane(self.device, self.slots)
        lane.idle = False
        try:
            yield lane
        finally:
            # A lane whose streams could not be drained (a failed kernel) is
            # dropped: copies may still be in flight over its buffers.
            if lane.idle:
                with self._lock:
                    self._free.append(lane)

    def release(self) -> None:
        with self._lock:
            for lane in self._free:
                lane.release()


def chunk_frames(job, host_chunk_bytes: int = HOST_CHUNK_BYTES) -> int:
    """Frames per chunk for host input: within the job's device budget, the
    staging size, and small enough to give :data:`MIN_CHUNKS` chunks."""
    rows, cols = job.frames.shape[-2:]
    per_frame = rows * cols * max(job.image.dtype.itemsize, job.out.dtype.itemsize)
    total = math.prod(job.frames.shape[:-2])
    return max(
        1,
        min(
            job.max_frames,
            _chunks.frames_per_chunk(host_chunk_bytes, per_frame),
            math.ceil(total / MIN_CHUNKS),
        ),
    )


def run_streamed(backend, pool: LanePool, job, *, host_chunk_bytes: int = HOST_CHUNK_BYTES):
    """Process ``job`` (host input, host output) through one lane of ``pool``.

    Each chunk is copied, in the caller's layout (so the copy is contiguous),
    into a pinned buffer, uploaded on the upload stream, computed and finished
    on the compute stream straight into a device buffer in the caller's layout
    and dtype, downloaded into another pinned buffer and copied into
    ``job.out`` once the host next needs that slot. Returns the chunking state
    of :func:`gpudeconv.engine.chunks.run_chunks`.
    """
    device = pool.device
    layout = job.layout
    with pool.lane() as lane:
        turn = itertools.count()

        def process(index):
            slot = lane.slots[next(turn) % len(lane.slots)]
            lane.collect(slot, job.out)
            caller_index, squeeze = layout.region(index)
            host_in = job.image[caller_index]
            slot.uploaded.synchronize()  # the pinned input's last upload is done
            pinned_in = lane.buffer(slot, "pinned_in", host_in.shape, host_in.dtype, pinned=True)
            parallel_copy(pinned_in, host_in)
            device_in = lane.buffer(slot, "in", host_in.shape, host_in.dtype, pinned=False)
            device_out = lane.buffer(slot, "out", host_in.shape, job.out.dtype, pinned=False)
            pinned_out = lane.buffer(slot, "pinned_out", host_in.shape, job.out.dtype, pinned=True)
            lane.upload.wait_event(slot.computed)  # compute no longer reads device_in
            device.upload(device_in, pinned_in, lane.upload)
            slot.uploaded.record(lane.upload)
            lane.compute.wait_event(slot.uploaded)
            lane.compute.wait_event(slot.downloaded)  # device_out is free again
            with lane.compute:
                result = job.compute(layout.frames(device_in)[squeeze], index)
                backend.finish_into(result, layout.frames(device_out)[squeeze])
                del result
            slot.computed.record(lane.compute)
            lane.download.wait_event(slot.computed)
            device.download(pinned_out, device_out, lane.download)
            slot.downloaded.record(lane.download)
            slot.pending = (caller_index, pinned_out)

        def on_out_of_memory():
            lane.drain(job.out)  # keep what finished; then free and retry smaller
            lane.release()
            backend.release_memory()

        try:
            # Work the caller queued on its current stream (a plan, a
            # device-resident call using the same cuFFT plans) comes first.
            lane.follow.record(device.current_stream())
            lane.compute.wait_event(lane.follow)
            state = _chunks.run_chunks(
                job.frames.shape[:-2],
                chunk_frames(job, host_chunk_bytes),
                process,
                is_out_of_memory=backend.is_out_of_memory,
                on_out_of_memory=on_out_of_memory,
            )
            lane.drain(job.out)
        except BaseException:
            with contextlib.suppress(Exception):  # the original error matters more
                lane.abandon()
                lane.idle = True
            raise
        lane.idle = True
        return state
