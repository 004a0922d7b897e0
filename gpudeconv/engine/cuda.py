"""The CuPy backend: fused kernels, FFT plans, streams and pinned staging.

Everything between the input and the output happens on the device, with no
host round trip between steps:

- ``fill_padding``: one kernel reads the frames (any dtype, any strides, so
  interleaved colour needs no transpose first), converts to float and writes
  the padded buffer, mirror and cross-fade included;
- the spectrum is multiplied by the cached filter in place (one pass) and the
  FFTs are cuFFT through ``cupyx.scipy.fft`` (plans cached by CuPy);
- ``finish``: one kernel reads the cropped inverse transform and writes the
  output in the caller's dtype and layout, clipped and rounded.

Host input runs through :func:`gpudeconv.engine.streaming.run_streamed` on a
:class:`CupyDevice`: one compute stream, copy streams ordered by events, and
pinned staging buffers kept per backend across calls (CI runs the same
orchestration on a simulated device).
"""

from __future__ import annotations

import functools
import threading

import cupy
import cupyx
import cupyx.scipy.fft
import numpy as np

from . import chunks as _chunks
from . import frames as _frames
from .arrays import misaligned
from .backend import Backend, Job
from .streaming import LanePool, run_streamed

_FILL_PADDING = cupy.ElementwiseKernel(
    "raw T x, raw int64 first_r, raw int64 second_r, raw F weight_r, "
    "raw int64 first_c, raw int64 second_c, raw F weight_c, "
    "int64 rows, int64 cols, int64 padded_rows, int64 padded_cols",
    "F y",
    """
    // y is the padded buffer (frames, padded_rows, padded_cols), contiguous;
    // x is indexed logically, so any strides work.
    const ptrdiff_t c = i % padded_cols;
    const ptrdiff_t r = (i / padded_cols) % padded_rows;
    const ptrdiff_t base = (i / (padded_cols * padded_rows)) * rows * cols;
    ptrdiff_t r0 = r, r1 = r, c0 = c, c1 = c;
    F wr = 0, wc = 0;
    if (r >= rows) { r0 = first_r[r - rows]; r1 = second_r[r - rows]; wr = weight_r[r - rows]; }
    if (c >= cols) { c0 = first_c[c - cols]; c1 = second_c[c - cols]; wc = weight_c[c - cols]; }
    // Rows first, then columns, in the same order of operations as the
    // NumPy path (near + w * (far - near)); compiled without FMA contraction
    // (--fmad=false), so each step rounds as NumPy's separate passes do.
    F a = (F)x[base + r0 * cols + c0];
    if (wr != 0) a += wr * ((F)x[base + r1 * cols + c0] - a);
    if (wc != 0) {
        F b = (F)x[base + r0 * cols + c1];
        if (wr != 0) b += wr * ((F)x[base + r1 * cols + c1] - b);
        a += wc * (b - a);
    }
    y = a;
    """,
    "gpudeconv_fill_padding",
    options=("--fmad=false",),
)

_FINISH_UNSIGNED = cupy.ElementwiseKernel(
    "F x, F lo, F hi",
    "T y",
    # The filter added 0.5 already (_frames.rounding_offset): truncation rounds.
    "y = (T)(x < lo ? lo : (x > hi ? hi : x));",
    "gpudeconv_finish_unsigned",
)
_FINISH_SIGNED = cupy.ElementwiseKernel(
    "F x, F lo, F hi",
    "T y",
    "y = (T)rint(x < lo ? lo : (x > hi ? hi : x));",
    "gpudeconv_finish_signed",
)
_FINISH_FLOAT = cupy.ElementwiseKernel("F x", "T y", "y = (T)x;", "gpudeconv_finish_float")


def _is_cufft_alloc_failure(exc: BaseException) -> bool:
    # cuFFT reports a failed workspace allocation as CUFFT_ALLOC_FAILED (2).
    return type(exc).__name__ == "CuFFTError" and getattr(exc, "result", None) == 2


class CupyDevice:
    """CuPy's streams, events and memory behind :class:`~.streaming.Device`."""

    def __init__(self, device: int):
        self.device = device

    def stream(self, kind: str):
        with cupy.cuda.Device(self.device):
            return cupy.cuda.Stream(non_blocking=True)

    def event(self):
        with cupy.cuda.Device(self.device):
            return cupy.cuda.Event(block=False, disable_timing=True)

    def current_stream(self):
        return cupy.cuda.get_current_stream()

    def empty(self, nbytes: int):
        with cupy.cuda.Device(self.device):
            return cupy.empty(nbytes, dtype=cupy.uint8)

    def pinned(self, nbytes: int) -> np.ndarray:
        return cupyx.empty_pinned((nbytes,), dtype=np.uint8)

    def upload(self, dst, src, stream) -> None:
        dst.set(src, stream=stream)

    def download(self, dst, src, stream) -> None:
        src.get(stream=stream, out=dst, blocking=False)


class CupyBackend(Backend):
    """CuPy and cuFFT on one NVIDIA GPU."""

    name = "cupy"
    xp = cupy
    # The forward and the inverse plan cached for a chunk each own a work
    # area of about one padded plane per frame.
    fft_work_planes = 2

    def __init__(self, device: int):
        self.fft = cupyx.scipy.fft
        self.device = int(device)
        self._padding_tables: dict = {}
        self._lock = threading.Lock()
        self.lanes = LanePool(CupyDevice(self.device))

    @classmethod
    @functools.cache
    def on(cls, device: int) -> CupyBackend:
        return cls(device)

    def context(self):
        return cupy.cuda.Device(self.device)

    def asarray(self, a):
        with self.context():
            return cupy.asarray(a)

    @staticmethod
    def _fft_ready(a):
        # cuFFT needs 16-byte aligned data (CuPy issue #9229: a view such as
        # x[1] of an odd-sized float32 stack fails with CUFFT_INVALID_VALUE).
        return a.copy() if misaligned(a.data.ptr) else a

    def rfft2(self, a):
        return self.fft.rfft2(self._fft_ready(a), axes=(-2, -1))

    def irfft2(self, a, shape):
        return self.fft.irfft2(self._fft_ready(a), s=shape, axes=(-2, -1), overwrite_x=True)

    def synchronize(self) -> None:
        with self.context():
            cupy.cuda.Device().synchronize()

    def default_budget(self) -> int:
        with self.context():
            free, _total = cupy.cuda.Device().mem_info
            pool_free = cupy.get_default_memory_pool().free_bytes()
        return _chunks.gpu_budget(free, pool_free)

    def is_out_of_memory(self, exc: BaseException) -> bool:
        return isinstance(exc, (cupy.cuda.memory.OutOfMemoryError, MemoryError)) or (
            _is_cufft_alloc_failure(exc)
        )

    def release_memory(self) -> None:
        with self.context():
            cupy.cuda.Device().synchronize()
            self.lanes.release()
            cupy.get_default_memory_pool().free_all_blocks()
            cupy.fft.config.get_plan_cache().clear()

    # -- fused element-wise steps ------------------------------------------
    def fill_padding(self, padding, frames, buffer) -> None:
        key = (padding, buffer.dtype.str)
        tables = self._padding_tables.get(key)
        if tables is None:
            tables = []
            for axis in (0, 1):
                first, second, weight = padding.sources(axis)
                tables += [
                    cupy.asarray(first, dtype=cupy.int64),
                    cupy.asarray(second, dtype=cupy.int64),
                    cupy.asarray(weight, dtype=buffer.dtype),
                ]
            # Other streams will read these: they must be on the device first.
            cupy.cuda.get_current_stream().synchronize()
            with self._lock:
                tables = self._padding_tables.setdefault(key, tables)
        rows, cols = padding.shape
        _FILL_PADDING(frames, *tables, rows, cols, *padding.padded, buffer)

    def finish(self, result, out, layout: _frames.Layout, index: tuple) -> None:
        # Host outputs go through run_streamed; here the output is on the GPU.
        self.finish_into(result, layout.frames(out)[index])

    def finish_into(self, result, target) -> None:
        """Clip, round and cast ``result`` straight into ``target`` (any strides)."""
        out_dtype = target.dtype
        if out_dtype.kind in "ui":
            info = np.iinfo(out_dtype)
            lo, hi = (
                result.dtype.type(_frames._representable(v, result.dtype))
                for v in (info.min, info.max)
            )
            kernel = _FINISH_UNSIGNED if out_dtype.kind == "u" else _FINISH_SIGNED
            kernel(result, lo, hi, target)
        else:
            _FINISH_FLOAT(result, target)

    # -- the chunk loop ----------------------------------------------------
    def run(self, job: Job):
        if isinstance(job.image, np.ndarray) and isinstance(job.out, np.ndarray):
            return run_streamed(self, self.lanes, job)
        return super().run(job)
