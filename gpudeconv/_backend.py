"""Which array backends exist, and the operations the pipeline asks of them.

The public functions resolve a backend once, at their boundary
(:func:`resolve_backend`), and hand the object down; nothing below that
boundary asks "am I on the GPU?". :class:`Backend` is NumPy/SciPy on the CPU;
``_cuda.CupyBackend`` specialises it with fused kernels, streams and pinned
memory.

Availability of CuPy is decided once per process: the import must succeed
*and* a CUDA device must answer, so an installed CuPy without a driver counts
as absent. ``GPUDECONV_BACKEND=numpy`` (or ``cupy``) overrides ``"auto"``.
"""

from __future__ import annotations

import contextlib
import functools
import numbers
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import scipy.fft

from . import _chunks, _frames
from ._arrays import is_cupy_array, to_host

__all__ = ["available_backends", "is_cupy_array", "to_host"]

BACKENDS = ("numpy", "cupy")
ENV_BACKEND = "GPUDECONV_BACKEND"
# On the CPU, chunks of about one 1080p plane are fastest: the FFT's working
# set then stays in cache (measured 40 ms per 1080p RGB frame, against 45 ms
# with 512 MiB chunks).
DEFAULT_CPU_CHUNK = 48 * 2**20


@functools.cache
def _cupy() -> ModuleType | None:
    """The CuPy module when it is importable and a CUDA device answers."""
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
    except Exception:  # ImportError, CUDARuntimeError, driver load failures...
        return None
    return cupy


def cupy_usable() -> bool:
    return _cupy() is not None


def available_backends() -> tuple[str, ...]:
    """The backends usable on this machine, ``"numpy"`` first.

    Examples
    --------
    >>> "numpy" in available_backends()
    True
    """
    return ("numpy", "cupy") if cupy_usable() else ("numpy",)


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


def cupy_backend(device: int | None = None) -> Backend:
    cp = _cupy()
    if cp is None:
        raise RuntimeError(
            "backend='cupy' was requested but CuPy is not usable here (not "
            "installed, or no CUDA device/driver); install gpudeconv[cuda12] or "
            "gpudeconv[cuda13] on a machine with an NVIDIA GPU, or use backend='numpy'"
        )
    count = cp.cuda.runtime.getDeviceCount()
    if device is None:
        device = cp.cuda.Device().id
    if not 0 <= device < count:
        raise ValueError(f"device must be a GPU index from 0 to {count - 1}, got {device}")
    from ._cuda import CupyBackend

    return CupyBackend.on(device)


def check_backend_name(backend: Any, argname: str = "backend") -> str:
    if not isinstance(backend, str) or backend not in ("auto", *BACKENDS):
        raise ValueError(f"{argname} must be one of 'auto', 'numpy', 'cupy', got {backend!r}")
    return backend


def check_device(device: Any) -> int | None:
    if device is None:
        return None
    if isinstance(device, bool) or not isinstance(device, numbers.Integral) or device < 0:
        raise ValueError(f"device must be None or a GPU index >= 0, got {device!r}")
    return int(device)


def resolve_backend(backend: str, *arrays: Any, device: int | None = None) -> Backend:
    """The backend to compute on for ``arrays``.

    ``"auto"`` keeps CuPy arrays on the GPU, sends NumPy arrays to the GPU when
    one is usable, and otherwise stays on NumPy; ``$GPUDECONV_BACKEND``
    overrides it. ``device`` picks the GPU (default: the one holding the
    input, else the current one).
    """
    backend = check_backend_name(backend)
    device = check_device(device)
    if backend == "auto":
        env = os.environ.get(ENV_BACKEND, "").strip().lower()
        if env:
            backend = check_backend_name(env, f"${ENV_BACKEND}")
    if backend == "auto":
        if any(is_cupy_array(a) for a in arrays) or cupy_usable():
            backend = "cupy"
        else:
            backend = "numpy"
    if backend == "numpy":
        return numpy_backend()
    if device is None:
        device = next((a.device.id for a in arrays if is_cupy_array(a)), None)
    return cupy_backend(device)
