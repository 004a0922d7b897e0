"""The operations the pipeline asks of an array backend, and the CPU one.

:class:`Backend` is NumPy/SciPy on the CPU; :class:`~.cuda.CupyBackend`
specialises it with fused kernels, streams and pinned memory. Which backend a
call gets is decided once, at the public boundary, by :mod:`.dispatch`;
nothing below that boundary asks "am I on the GPU?".
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import scipy.fft

from . import chunks as _chunks
from . import frames as _frames
from .arrays import to_host

__all__ = ["Backend", "Job", "fft_threads", "fft_workers", "numpy_backend"]

# On the CPU, chunks of about one 1080p plane are fastest: the FFT's working
# set then stays in cache (measured 40 ms per 1080p RGB frame, against 45 ms
# with 512 MiB chunks).
DEFAULT_CPU_CHUNK = 48 * 2**20


_local = threading.local()


def fft_workers() -> int:
    """Threads for SciPy's FFT: set by :func:`fft_threads` for this thread,
    else ``$GPUDECONV_FFT_WORKERS``, else every core."""
    override = getattr(_local, "fft_workers", None)
    if override:
        return override
    value = os.environ.get("GPUDECONV_FFT_WORKERS")
    if value:
        return int(value)
    return os.cpu_count() or 1


@contextlib.contextmanager
def fft_threads(n: int):
    """Use ``n`` FFT threads in this thread for the duration (e.g. inside a
    dask task, where parallelism comes from running tasks side by side)."""
    previous = getattr(_local, "fft_workers", None)
    _local.fft_workers = int(n)
    try:
        yield
    finally:
        _local.fft_workers = previous


@dataclass
class Job:
    """One call's work: frames in, the output to fill, and the per-chunk step.

    ``frames`` and ``out`` are in the caller's arrays (``frames`` is the
    frames-layout view of the input, ``image`` the input itself);
    ``compute(chunk, index)`` takes the chunk of frames at ``index`` on the
    compute device and returns the float result, ready for
    :meth:`Backend.finish`.
    """

    image: Any
    frames: Any
    out: Any
    layout: _frames.Layout
    compute: Callable[[Any, tuple], Any]
    max_frames: int


class Backend:
    """NumPy and SciPy on the CPU."""

    name = "numpy"
    xp: ModuleType = np
    device: int | None = None
    #: Padded real planes per frame that FFT libraries keep besides the
    #: pipeline's own arrays (cuFFT's cached plans own work areas).
    fft_work_planes = 0

    def __init__(self):
        self.fft = scipy.fft

    def __repr__(self) -> str:
        return f"<gpudeconv backend {self.name}>"

    @property
    def key(self) -> tuple:
        """Identifies where arrays live, for caches."""
        return (self.name, self.device)

    def context(self):
        """Makes this backend's device current (a no-op on the CPU)."""
        return contextlib.nullcontext()

    def asarray(self, a):
        """``a`` on this backend (no copy when it is already there)."""
        return to_host(a)

    def rfft2(self, a):
        return self.fft.rfft2(a, axes=(-2, -1), workers=fft_workers())

    def irfft2(self, a, shape):
        """Inverse of :meth:`rfft2`; ``a`` is a temporary the FFT may reuse."""
        # Two 1-D passes: SciPy's irfft2 copies the spectrum and runs 2-3x
        # slower than this (measured: 33 ms vs 12 ms for three 1152x2000
        # float32 planes, 2 threads).
        workers = fft_workers()
        a = self.fft.ifft(a, n=shape[0], axis=-2, overwrite_x=True, workers=workers)
        return self.fft.irfft(a, n=shape[1], axis=-1, overwrite_x=True, workers=workers)

    def synchronize(self) -> None:
        """Wait for the device's queued work (a no-op on the CPU)."""

    def default_budget(self) -> int:
        return DEFAULT_CPU_CHUNK

    def is_out_of_memory(self, exc: BaseException) -> bool:
        return isinstance(exc, MemoryError)

    def release_memory(self) -> None:
        """Drop caches after running out of memory."""

    def fill_padding(self, padding, frames, buffer) -> None:
        padding.fill(self.xp, frames, buffer)

    def finish(self, result, out, layout: _frames.Layout, index: tuple) -> None:
        """Clip, round and cast a chunk's float ``result`` into ``out``."""
        result = _frames.cast_into(self.xp, result, out.dtype)
        _frames.store(out, layout, index, result)

    def finish_into(self, result, target) -> None:
        """Clip, round and cast ``result`` straight into ``target`` (any strides)."""
        target[...] = _frames.cast_into(self.xp, result, target.dtype)

    def run(self, job: Job):
        """Process every chunk of ``job``, halving chunks that run out of memory."""

        def process(index):
            result = job.compute(self.asarray(job.frames[index]), index)
            self.finish(result, job.out, job.layout, index)

        return _chunks.run_chunks(
            job.frames.shape[:-2],
            job.max_frames,
            process,
            is_out_of_memory=self.is_out_of_memory,
            on_out_of_memory=self.release_memory,
        )


@functools.cache
def numpy_backend() -> Backend:
    return Backend()
