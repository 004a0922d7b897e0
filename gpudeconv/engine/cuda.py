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

Host input runs through :meth:`CupyBackend.run_streamed`: two CUDA streams
and pinned staging buffers, so that while one chunk computes the next is
uploaded and the previous one downloaded.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cupy
import cupyx
import cupyx.scipy.fft
import numpy as np

from . import chunks as _chunks
from . import frames as _frames
from .arrays import parallel_copy
from .backend import Backend, Job

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
    // NumPy path (near + w * (far - near)), so both round alike.
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


class CupyBackend(Backend):
    """CuPy and cuFFT on one NVIDIA GPU."""

    name = "cupy"
    xp = cupy

    def __init__(self, device: int):
        self.fft = cupyx.scipy.fft
        self.device = int(device)
        self._padding_tables: dict = {}

    @classmethod
    @functools.cache
    def on(cls, device: int) -> CupyBackend:
        return cls(device)

    def context(self):
        return cupy.cuda.Device(self.device)

    def asarray(self, a):
        with self.context():
            return cupy.asarray(a)

    def rfft2(self, a):
        return self.fft.rfft2(a, axes=(-2, -1))

    def irfft2(self, a, shape):
        return self.fft.irfft2(a, s=shape, axes=(-2, -1), overwrite_x=True)

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
            cupy.get_default_memory_pool().free_all_blocks()
            cupy.fft.config.get_plan_cache().clear()

    # -- fused element-wise steps ------------------------------------------
    def fill_padding(self, padding, frames, buffer) -> None:
        tables = self._padding_tables.get((padding, buffer.dtype.str))
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
            self._padding_tables[(padding, buffer.dtype.str)] = tables
        rows, cols = padding.shape
        _FILL_PADDING(frames, *tables, rows, cols, *padding.padded, buffer)

    def finish(self, result, out, layout: _frames.Layout, index: tuple) -> None:
        # Host outputs go through run_streamed; here the output is on the GPU.
        self._finish_into(result, layout.frames(out)[index])

    @staticmethod
    def _finish_into(result, target) -> None:
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
            return self.run_streamed(job)
        return super().run(job)

    def run_streamed(self, job: Job, n_streams: int = 2):
        """Host in, host out: overlap upload, compute and download.

        Each chunk is copied (in the caller's layout, so the copy is
        contiguous) into a pinned buffer, uploaded asynchronously on its
        stream, computed, finished straight into a device array in the
        caller's layout and downloaded asynchronously into another pinned
        buffer; the host copies it into ``job.out`` once the stream is done,
        while the other stream works.
        """
        layout = job.layout
        slots = [_Slot(cupy.cuda.Stream(non_blocking=True)) for _ in range(n_streams)]
        turn = [0]

        def process(index):
            slot = slots[turn[0] % n_streams]
            slot.drain(job.out)
            caller_index, squeeze = layout.region(index)
            host_in = job.image[caller_index]
            pinned_in = slot.pinned("in", host_in.shape, host_in.dtype)
            parallel_copy(pinned_in, host_in)
            with slot.stream:
                device_in = cupy.empty(host_in.shape, dtype=host_in.dtype)
                device_in.set(pinned_in, stream=slot.stream)
                result = job.compute(layout.frames(device_in)[squeeze], index)
                device_out = cupy.empty(host_in.shape, dtype=job.out.dtype)
                self._finish_into(result, layout.frames(device_out)[squeeze])
                pinned_out = slot.pinned("out", device_out.shape, device_out.dtype)
                device_out.get(out=pinned_out, stream=slot.stream, blocking=False)
            slot.pending = (caller_index, pinned_out)
            turn[0] += 1

        def on_out_of_memory():
            for slot in slots:
                slot.drain(job.out)
            self.release_memory()

        state = _chunks.run_chunks(
            job.frames.shape[:-2],
            min(job.max_frames, _host_chunk_frames(job)),
            process,
            is_out_of_memory=self.is_out_of_memory,
            on_out_of_memory=on_out_of_memory,
        )
        for slot in slots:
            slot.drain(job.out)
        return state


# Pinned staging per stream stays small: enough to keep PCIe busy, little
# page-locked memory (two streams x in + out).
HOST_CHUNK_BYTES = 64 * 2**20


def _host_chunk_frames(job: Job) -> int:
    rows, cols = job.frames.shape[-2:]
    per_frame = rows * cols * max(job.image.dtype.itemsize, job.out.dtype.itemsize)
    return _chunks.frames_per_chunk(HOST_CHUNK_BYTES, per_frame)


@dataclass
class _Slot:
    """One stream with its pinned staging buffers and its download in flight."""

    stream: object
    pending: tuple | None = None

    def __post_init__(self):
        self._buffers: dict[str, np.ndarray] = {}

    def pinned(self, name: str, shape, dtype) -> np.ndarray:
        """A pinned host array of ``shape`` (reusing a large enough buffer)."""
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape)) * dtype.itemsize
        buffer = self._buffers.get(name)
        if buffer is None or buffer.nbytes < nbytes:
            buffer = cupyx.empty_pinned((max(nbytes, 1),), dtype=np.uint8)
            self._buffers[name] = buffer
        return buffer[:nbytes].view(dtype).reshape(shape)

    def drain(self, out: np.ndarray) -> None:
        """Wait for this stream; copy its finished download into ``out``."""
        self.stream.synchronize()
        if self.pending is not None:
            caller_index, pinned_out = self.pending
            parallel_copy(out[caller_index], pinned_out)
            self.pending = None
