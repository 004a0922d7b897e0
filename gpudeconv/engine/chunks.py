"""Splitting a batch of frames into chunks that fit a memory budget, and
retrying with smaller chunks when memory runs out anyway."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass


def frames_per_chunk(budget_bytes: int, bytes_per_frame: int) -> int:
    """How many frames one chunk may hold (at least one)."""
    return max(1, int(budget_bytes) // max(1, int(bytes_per_frame)))


#: cuFFT plans made by CuPy count elements in 32 bits (CuPy issue #4406): a
#: chunk's transform stays below this many real elements.
MAX_FFT_ELEMENTS = 2**31 - 1


def fft_frames_cap(padded: tuple[int, int]) -> int:
    """The most frames one batched FFT of ``padded`` planes may hold."""
    return max(1, MAX_FFT_ELEMENTS // (int(padded[0]) * int(padded[1])))


def gpu_budget(
    free_bytes: int, pool_free_bytes: int = 0, *, fraction: float = 0.5, minimum: int = 64 * 2**20
) -> int:
    """Working-memory budget on a GPU: a ``fraction`` of what is free, counting
    the blocks CuPy's memory pool holds but does not use as free too."""
    return max(minimum, int((free_bytes + pool_free_bytes) * fraction))


def batch_chunks(batch_shape: tuple[int, ...], max_frames: int) -> Iterator[tuple]:
    """Index tuples over ``batch_shape``, each selecting at most ``max_frames``
    frames (and at least one), in order, covering every frame once.

    Chunks are slices of the outermost batch axis; when a single outer item is
    already too large, the next axis is split instead. Each chunk is therefore
    a view, whatever the strides.
    """
    if not batch_shape:
        yield ()
        return
    outer, inner = batch_shape[0], batch_shape[1:]
    per_item = math.prod(inner)
    if per_item <= max_frames:
        step = max(1, max_frames // per_item)
        for start in range(0, outer, step):
            yield (slice(start, min(outer, start + step)),)
    else:
        for i in range(outer):
            for rest in batch_chunks(inner, max_frames):
                yield (i, *rest)


@dataclass
class _State:
    max_frames: int
    retries: int = 0


def run_chunks(
    batch_shape: tuple[int, ...],
    max_frames: int,
    process: Callable[[tuple], None],
    *,
    is_out_of_memory: Callable[[BaseException], bool] = lambda exc: isinstance(exc, MemoryError),
    on_out_of_memory: Callable[[], None] = lambda: None,
) -> _State:
    """Call ``process(index)`` for consecutive chunks covering ``batch_shape``
    (as :func:`batch_chunks`). When ``process`` runs out of memory, halve the
    chunk, call ``on_out_of_memory`` (to free caches) and retry the same
    frames; only a single frame that does not fit is an error.

    Returns the final state (``max_frames``, ``retries``) for reporting.
    """
    state = _State(max(1, int(max_frames)))
    _run(tuple(batch_shape), (), state, process, is_out_of_memory, on_out_of_memory)
    return state


def _run(shape, prefix, state, process, is_oom, on_oom) -> None:
    if not shape:
        _attempt(prefix, 1, state, process, is_oom, on_oom)
        return
    outer, inner = shape[0], shape[1:]
    per_item = math.prod(inner)
    start = 0
    while start < outer:
        if per_item <= state.max_frames:
            stop = min(outer, start + state.max_frames // per_item)
            index = (*prefix, slice(start, stop))
            if _attempt(index, (stop - start) * per_item, state, process, is_oom, on_oom):
                start = stop
        else:
            _run(inner, (*prefix, start), state, process, is_oom, on_oom)
            start += 1


def _attempt(index, n_frames: int, state, process, is_oom, on_oom) -> bool:
    """True when ``process(index)`` succeeded; False when it ran out of memory
    and the chunk size was halved (the caller retries with the smaller size)."""
    try:
        process(index)
        return True
    except Exception as exc:
        if not is_oom(exc):
            raise
        on_oom()
        if n_frames <= 1:
            raise MemoryError(
                "a single frame needs more memory than is available; free memory "
                "(other processes, cached arrays) or use backend='numpy'"
            ) from exc
        state.max_frames = max(1, min(state.max_frames, n_frames) // 2)
        state.retries += 1
        return False
