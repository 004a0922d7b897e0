"""A simulated accelerator for testing the streamed pipeline without a GPU.

:class:`SimulatedDevice` implements the interface of
:class:`gpudeconv.engine.streaming.Device` with NumPy, the way a GPU behaves
and a careless host program does not expect: copies are queued on their
stream and complete *late* and *out of order* across streams (a seeded random
generator decides when each queued copy runs), new buffers are filled with
garbage, and compute (NumPy on the host) happens at once, so it reads
whatever its input buffer holds at that moment. A chunk read before its
upload, a pinned buffer refilled before its upload ran, a device buffer
overwritten before its download ran or a result read before its download
finished therefore gives wrong frames, deterministically for a seed.

:class:`SimulatedBackend` is the NumPy backend with its host calls sent
through :func:`gpudeconv.engine.streaming.run_streamed` on such a device:
the exact orchestration code the CuPy backend runs.
"""

from __future__ import annotations

import threading
import weakref
from collections import deque

import numpy as np

from .backend import Backend, Job
from .streaming import LanePool, run_streamed

__all__ = ["SimulatedBackend", "SimulatedDevice"]

_GARBAGE = 0xA7  # as float32: about -1.2e-15 repeated; as uint8: 167


class SimStream:
    """Operations queued in order; ``immediate`` streams run them at once."""

    def __init__(self, device: SimulatedDevice, immediate: bool):
        self.device = device
        self.immediate = immediate
        self.ops: deque = deque()

    def enqueue(self, op) -> None:
        with self.device.lock:
            if self.immediate:
                op()
            else:
                self.ops.append(op)

    def step(self) -> None:
        with self.device.lock:
            self.ops.popleft()()

    def synchronize(self) -> None:
        with self.device.lock:
            while self.ops:
                self.step()

    def wait_event(self, event: SimEvent) -> None:
        # As cudaStreamWaitEvent: wait for the event's most recent record, as
        # of now (a later record does not count).
        with self.device.lock:
            target = event.recorded
            self.enqueue(lambda: event.wait_for(target))
            self.device.progress()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


class SimEvent:
    """Counts records issued and completed; waiting runs the recording stream."""

    def __init__(self, device: SimulatedDevice):
        self.device = device
        self.recorded = 0
        self.completed = 0
        self._streams: dict[int, SimStream] = {}

    def record(self, stream: SimStream) -> None:
        with self.device.lock:
            self.recorded += 1
            number = self.recorded
            self._streams[number] = stream
            stream.enqueue(lambda: self._complete(number))
            self.device.progress()

    def _complete(self, number: int) -> None:
        self.completed = max(self.completed, number)
        self._streams.pop(number, None)

    def wait_for(self, number: int) -> None:
        with self.device.lock:
            while self.completed < number:
                self._streams[min(n for n in self._streams if n <= number)].step()

    def synchronize(self) -> None:
        with self.device.lock:
            self.wait_for(self.recorded)


class SimulatedDevice:
    """NumPy buffers and streams whose copies finish late and out of order.

    Parameters
    ----------
    seed : int
        Seeds when queued operations run.
    progress : float
        Chance, at each call into the device, that each copy stream runs its
        oldest queued operation: low values leave copies in flight long.
    memory : int, optional
        Bytes of device buffers that may be allocated at once; more raises
        :class:`MemoryError`, as a full GPU does.
    """

    def __init__(self, seed: int = 0, *, progress: float = 0.3, memory: int | None = None):
        self.rng = np.random.default_rng(seed)
        self.progress_rate = progress
        self.memory = memory
        self.allocated = 0
        self.copy_streams: list[SimStream] = []
        self.caller = SimStream(self, immediate=True)
        self.uploads = 0
        # One lock for all simulated state: host threads may share the device
        # (each call on its own lane), as they share a GPU.
        self.lock = threading.RLock()

    def stream(self, kind: str) -> SimStream:
        stream = SimStream(self, immediate=kind == "compute")
        if not stream.immediate:
            with self.lock:
                self.copy_streams.append(stream)
        return stream

    def event(self) -> SimEvent:
        return SimEvent(self)

    def current_stream(self) -> SimStream:
        return self.caller

    def empty(self, nbytes: int) -> np.ndarray:
        with self.lock:
            if self.memory is not None and self.allocated + nbytes > self.memory:
                raise MemoryError(f"simulated device: {nbytes} bytes do not fit")
            self.allocated += nbytes
        buffer = np.full(nbytes, _GARBAGE, np.uint8)
        # The memory is given back when the buffer is garbage collected.
        weakref.finalize(buffer, self._free, nbytes)
        return buffer

    def _free(self, nbytes: int) -> None:
        with self.lock:
            self.allocated -= nbytes

    def pinned(self, nbytes: int) -> np.ndarray:
        return np.full(nbytes, _GARBAGE, np.uint8)

    def upload(self, dst, src, stream: SimStream) -> None:
        with self.lock:
            self.uploads += 1
            stream.enqueue(lambda: np.copyto(dst, src))
            self.progress()

    def download(self, dst, src, stream: SimStream) -> None:
        with self.lock:
            stream.enqueue(lambda: np.copyto(dst, src))
            self.progress()

    def progress(self) -> None:
        """Let some queued operations run, in an order the seed decides."""
        with self.lock:
            for i in self.rng.permutation(len(self.copy_streams)):
                stream = self.copy_streams[i]
                if stream.ops and self.rng.random() < self.progress_rate:
                    stream.step()

    @property
    def idle(self) -> bool:
        """Nothing queued on any copy stream."""
        return not any(stream.ops for stream in self.copy_streams)


class SimulatedBackend(Backend):
    """The NumPy backend with host calls streamed through a :class:`SimulatedDevice`."""

    name = "simulated"

    def __init__(self, device: SimulatedDevice | None = None, *, slots: int | None = None):
        super().__init__()
        self.sim = device if device is not None else SimulatedDevice()
        self.lanes = LanePool(self.sim) if slots is None else LanePool(self.sim, slots)
        self.released = 0

    @property
    def key(self) -> tuple:
        return (self.name, id(self))

    def run(self, job: Job):
        return run_streamed(self, self.lanes, job)

    def release_memory(self) -> None:
        self.released += 1
        self.lanes.release()
