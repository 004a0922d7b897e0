"""The frame pipeline shared by every FFT filter in the package.

Data flows one way, once per chunk of frames::

    caller's array -> validate -> (view) frames (..., rows, cols)
      -> chunk -> to the compute device -> pad / taper into a float buffer
      -> rfft2 -> x transfer function -> irfft2 -> crop -> clip/round
      -> into the output on the caller's device

A subclass says what transfer function to use (:meth:`FourierFilter.transfer`)
or replaces the per-chunk step altogether (``methods.edgetaper.EdgeTaper``). Plans (padding
geometry, transfer functions, taper weights) are cached per frame shape,
device and precision, so a filter object applied to a stream of frames does
that work once.

Thread safety: one filter may serve many threads at once (dask's threaded
scheduler, a web server). Plans are made under a lock and never change
afterwards; what a call learns about its frames (the chunking, a chosen snr)
lives in that call's :class:`CallRecord`, kept per thread, never on the
shared object.
"""

from __future__ import annotations

import numbers
import os
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import chunks as _chunks
from . import frames as _frames
from .arrays import is_cupy_array
from .backend import Backend, Job
from .borders import Padding, check_pad, taper, taper_weights
from .dispatch import check_backend_name, check_device, resolve_backend
from .extension import HarmonicExtension, default_pad
from .kernels import normalize
from .otf import transfer_function

BORDERS = ("harmonic", "reflect", "edgetaper", "circular", "unknown")
#: Borders that extend the frame into padding (``pad`` applies to them).
PADDED_BORDERS = ("harmonic", "reflect", "unknown")


@dataclass
class Plan:
    """Everything a chunk of frames of one shape needs, on one device."""

    padding: Padding
    transfer: Any  # complex (padded rows, padded cols // 2 + 1) on the device
    taper: tuple | None = None  # (weights, psf transfer function) for edgetaper
    bytes_per_frame: int = 0
    extension: Any = None  # HarmonicExtension for the harmonic and unknown borders
    extra: dict = field(default_factory=dict)  # what a subclass caches besides


@dataclass
class CallRecord:
    """What one call learnt: how it was chunked (``run``: ``max_frames``,
    ``retries``) and per-frame results a method reports (``results``, e.g.
    Wiener's ``"snr"``), each shaped like the image without its spatial axes."""

    run: Any = None
    results: dict = field(default_factory=dict)


class FourierFilter:
    """Applies a per-frame transfer function with the package's border,
    layout, dtype, chunking and device handling. Subclasses define
    :meth:`transfer`."""

    def __init__(
        self,
        psf,
        *,
        border: str = "harmonic",
        pad=None,
        channel_axis: int | None = None,
        backend: str = "auto",
        precision: str | None = None,
        max_memory: int | None = None,
        device: int | None = None,
    ):
        self.psf = normalize(psf)
        if border not in BORDERS:
            raise ValueError(
                f"border must be one of {', '.join(map(repr, BORDERS))}, got {border!r}"
            )
        self.border = border
        self.pad = check_pad(pad)
        if self.pad is not None and border not in PADDED_BORDERS:
            raise ValueError(
                f"pad applies to border='harmonic', 'reflect' or 'unknown', got border={border!r}"
            )
        self.channel_axis = _frames.check_channel_axis(channel_axis)
        self.backend = check_backend_name(backend)
        _frames.dtypes(np.float32, precision)  # validates
        self.precision = precision
        if max_memory is not None and (
            isinstance(max_memory, bool)
            or not isinstance(max_memory, numbers.Integral)
            or max_memory <= 0
        ):
            raise ValueError(f"max_memory must be a positive number of bytes, got {max_memory!r}")
        self.max_memory = max_memory
        self.device = check_device(device)
        self._plans: dict[tuple, Plan] = {}
        self._plan_lock = threading.Lock()
        self._local = threading.local()

    def __getstate__(self):
        # Plans hold device arrays and the lock cannot travel: a copy plans anew.
        state = self.__dict__.copy()
        for name in ("_plans", "_plan_lock", "_local"):
            state.pop(name)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._plans = {}
        self._plan_lock = threading.Lock()
        self._local = threading.local()

    @property
    def last_call(self) -> CallRecord | None:
        """The record of this thread's most recent call (other threads' calls
        never show here)."""
        return getattr(self._local, "call", None)

    @property
    def last_run(self):
        """How this thread's most recent call was chunked (``max_frames``,
        ``retries``), or None before the first call."""
        call = self.last_call
        return None if call is None else call.run

    @property
    def _results(self) -> dict:
        """Per-frame results of the call in progress in this thread."""
        return self._local.call.results

    #: Restoration pads seamlessly; the forward model needs an exact mirror.
    seamless = True

    #: Working memory per frame, in padded real frames of the work dtype.
    frames_of_memory = 4
    #: The harmonic border's padding carries the frame's edges along a motion
    #: blur and is twice the PSF's extent (:mod:`.directional`): measured for
    #: the Wiener filter. The iterative methods keep only the frame's pixels
    #: in their data terms and start from the plain harmonic extension.
    along_motion = True

    # -- what subclasses provide -------------------------------------------
    def transfer(self, backend: Backend, padded: tuple[int, int]):
        """complex128 transfer function for the padded frame shape: by
        default the PSF's own (the forward model), which Wiener replaces."""
        return transfer_function(backend, self.psf, padded)

    def _plan_extra(self, backend: Backend, plan: Plan, work: np.dtype) -> None:
        """Cache more per-shape arrays in ``plan.extra`` (on the device)."""

    def _start_call(self, batch_shape: tuple[int, ...]) -> None:
        """Called once per call, before the chunks (per-frame diagnostics)."""

    # -- the pipeline --------------------------------------------------------
    def __call__(self, image):
        image = _frames.as_image(image)
        backend = resolve_backend(self.backend, image, device=self.device)
        return self.run_on(backend, image)[0]

    def run_on(self, backend: Backend, image) -> tuple[Any, CallRecord]:
        """Filter ``image`` on ``backend`` (resolved by the caller); returns the
        output and this call's :class:`CallRecord`."""
        image = _frames.as_image(image)
        layout = _frames.Layout.of(image, self.channel_axis)
        _frames.check_psf_fits(layout, image.shape, self.psf.shape)
        work, out_dtype = _frames.dtypes(image.dtype, self.precision)
        frames = layout.frames(image)
        plan = self.plan(backend, frames.shape[-2:], work)
        out = _empty_like_caller(image, out_dtype)
        check_finite = image.dtype.kind == "f"
        offset = _frames.rounding_offset(out_dtype)

        def compute(chunk, index):
            return self._apply(backend, plan, chunk, work, check_finite, offset, index)

        call = self._local.call = CallRecord()
        self._start_call(frames.shape[:-2])
        max_frames = min(
            _chunks.frames_per_chunk(self._budget(backend), plan.bytes_per_frame),
            _chunks.fft_frames_cap(plan.padding.padded),
        )
        with backend.context():
            call.run = backend.run(Job(image, frames, out, layout, compute, max_frames))
        return out, call

    def plan(self, backend: Backend, shape, work: np.dtype) -> Plan:
        shape = tuple(int(n) for n in shape)
        key = (shape, backend.key, np.dtype(work).str)
        plan = self._plans.get(key)
        if plan is None:
            with self._plan_lock:
                plan = self._plans.get(key)
                if plan is None:
                    plan = self._make_plan(backend, shape, np.dtype(work))
                    # The streamed GPU path and other threads read the plan
                    # from other streams: it must be complete before it is shared.
                    backend.synchronize()
                    self._plans[key] = plan
        return plan

    def _make_plan(self, backend: Backend, shape, work: np.dtype) -> Plan:
        complex_dtype = np.result_type(work, np.complex64)
        xp = backend.xp
        padding = self._padding(shape)
        with backend.context():
            transfer = self.transfer(backend, padding.padded)
            if transfer is not None:
                transfer = transfer.astype(complex_dtype)
            tapering = None
            if self.border == "edgetaper":
                weights = xp.asarray(taper_weights(shape, self.psf), dtype=work)
                blur = transfer_function(backend, self.psf, shape).astype(complex_dtype)
                tapering = (weights, blur)
        # Padded buffer, its spectrum and the inverse transform can be alive
        # together, plus FFT scratch: about four padded real frames.
        planes = self.frames_of_memory + backend.fft_work_planes
        bytes_per_frame = planes * int(np.prod(padding.padded)) * work.itemsize
        if tapering is not None:
            bytes_per_frame *= 2
        plan = Plan(padding, transfer, tapering, bytes_per_frame)
        if self.border in ("harmonic", "unknown") and padding.padded != padding.shape:
            with backend.context():
                plan.extension = HarmonicExtension(
                    backend,
                    shape,
                    padding.padded,
                    work,
                    psf=self.psf if self.along_motion else None,
                )
        with backend.context():
            self._plan_extra(backend, plan, work)
        return plan

    def _padding(self, shape) -> Padding:
        if self.border in PADDED_BORDERS:
            pad = self.pad
            if self.border == "harmonic" and self.along_motion:
                pad = default_pad(self.psf.shape, pad)
            return Padding.reflect(shape, self.psf.shape, pad, seamless=self.seamless)
        return Padding.none(shape)

    def _budget(self, backend: Backend) -> int:
        if self.max_memory is not None:
            return self.max_memory
        env = os.environ.get("GPUDECONV_MAX_MEMORY")
        if env:
            return int(env)
        return backend.default_budget()

    def _prepare(self, backend: Backend, plan: Plan, chunk, work):
        """The chunk as a float buffer of the padded shape (padded or tapered);
        a new array unless no padding is needed (then maybe ``chunk`` itself)."""
        padding = plan.padding
        if plan.taper is not None:
            return taper(backend, *plan.taper, chunk.astype(work, copy=True))
        if padding.padded != padding.shape:
            buffer = backend.xp.empty(chunk.shape[:-2] + padding.padded, dtype=work)
            if plan.extension is not None:
                plan.extension.fill(backend, chunk, buffer)
            else:
                backend.fill_padding(padding, chunk, buffer)
            return buffer
        return chunk.astype(work, copy=False)

    def _filter(self, backend: Backend, plan: Plan, spectrum, chunk, index) -> None:
        """Apply the filter to the chunk's spectrum, in place."""
        spectrum *= plan.transfer

    def _apply(self, backend: Backend, plan: Plan, chunk, work, check_finite, offset, index=()):
        """Filter one chunk of frames (..., rows, cols) at the frames ``index``;
        returns a float view of the cropped result, plus ``offset``, that the
        caller may modify."""
        padding = plan.padding
        buffer = self._prepare(backend, plan, chunk, work)
        spectrum = backend.rfft2(buffer)  # rfft2 leaves its input alone
        del buffer
        if check_finite:
            raise_if_not_finite(backend.xp, spectrum, chunk)
        self._filter(backend, plan, spectrum, chunk, index)
        if offset:
            # Adding a constant to every pixel is adding it, times the pixel
            # count (the inverse FFT divides by it), to the zero frequency:
            # one value per frame instead of a pass over the frame.
            spectrum[..., 0, 0] += offset * padding.padded[0] * padding.padded[1]
        restored = backend.irfft2(spectrum, padding.padded)
        rows, cols = padding.shape
        return restored[..., :rows, :cols]


def raise_if_not_finite(xp, spectrum, chunk) -> None:
    # The zero-frequency term is each frame's sum: one NaN or Inf pixel
    # makes it non-finite, so one value per frame checks the whole frame.
    if bool(xp.isfinite(spectrum[..., 0, 0]).all()):
        return
    if bool(xp.isfinite(chunk).all()):
        raise ValueError(
            "image values are too large to sum in this precision; scale the "
            "image down or pass precision='double'"
        )
    raise ValueError("image contains NaN or infinite values; replace them before deconvolving")


def _empty_like_caller(image, dtype):
    if is_cupy_array(image):
        import cupy

        with cupy.cuda.Device(image.device.id):
            return cupy.empty(image.shape, dtype=dtype)
    return np.empty(image.shape, dtype=dtype)
