"""Scale out with dask: lazy restoration of ``dask.array`` stacks.

``wiener``, ``richardson_lucy`` and ``deconvolve`` take a
:class:`dask.array.Array` and return a lazy one of the same shape, dtype and
chunks, with the options of the in-memory functions:

- chunks along batch axes only: each chunk is restored as a batch, exactly as
  in memory;
- chunks along the spatial axes (one image too large for memory): tiles are
  restored with an overlap of ``depth`` pixels taken from their neighbours
  (default: the Wiener filter's reach, measured on its impulse response,
  :func:`gpudeconv.tiling.filter_reach`). With Wiener's harmonic border (the
  default) the frame is first extended exactly as the whole image would be
  and tiled periodically, so every pixel, the outermost included, gets the
  whole image's result with ``iterations=0`` (the extension without the
  global conjugate-gradient step) up to the reach's tolerance; other borders
  and methods use the package's own border handling at the outer edges;
- NumPy or CuPy chunks: the result's chunk type follows the input.

Runs on any dask scheduler, ``dask.distributed`` clusters included (one
worker per GPU with ``dask_cuda.LocalCUDACluster``). :func:`restore_stack`
restores a ``.npy`` or zarr stack that does not fit in memory chunk by chunk,
reading and writing each chunk directly, with bounded memory.
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path

import dask.array as da
import numpy as np

from .deconvolve import make_deconvolver
from .engine import frames as _frames
from .engine.backend import fft_threads
from .tiling import even_chunks, filter_reach, finish, padded_frames

__all__ = ["wiener", "richardson_lucy", "deconvolve", "restore_stack", "default_depth"]


def default_depth(psf, method: str = "wiener", **options) -> int:
    """Overlap for spatial tiles: the Wiener filter's reach at its snr (at
    snr 1000 for ``snr="auto"``), three times the PSF's extent for the
    iterative methods."""
    if method != "wiener":
        return 3 * max(np.shape(psf))
    snr = options.get("snr", "auto")  # what make_deconvolver defaults to
    return filter_reach(psf, 1000.0 if snr == "auto" else snr, options.get("reg"))


class _RestoreBlock:
    """The task: restore one block with a filter planned once per process.

    Picklable (it carries the PSF and options, not the plan), so it travels to
    worker processes; FFTs run single-threaded inside, since dask runs blocks
    side by side.
    """

    def __init__(self, psf, method, options, fft_workers=1):
        self.psf, self.method, self.options = psf, method, options
        self.fft_workers = fft_workers
        self._filter = None

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_filter"} | {"_filter": None}

    def __call__(self, block):
        if self._filter is None:
            self._filter = make_deconvolver(self.psf, self.method, **self.options)
        with fft_threads(self.fft_workers):
            return self._filter(block)


def deconvolve(image, psf, method: str = "wiener", *, depth=None, fft_workers: int = 1, **options):
    """Lazily restore a dask array with any method of :func:`gpudeconv.deconvolve`.

    Parameters
    ----------
    image : dask.array.Array
        Layout as in :func:`gpudeconv.wiener` (``channel_axis`` included).
    psf : (k_r, k_c) array_like
    method : {"wiener", "richardson_lucy", "sparse"}
    depth : int, optional
        Overlap between spatial tiles, when the spatial axes are chunked
        (default: :func:`default_depth`). Ignored otherwise.
    fft_workers : int, default 1
        FFT threads inside each task.
    **options
        The method's options (``snr``, ``iterations``, ``backend``...).

    Returns
    -------
    restored : dask.array.Array
        Same shape, chunks and chunk type; dtype as the in-memory function.
    """
    if not isinstance(image, da.Array):
        raise TypeError(f"image must be a dask.array.Array, got {type(image).__name__}")
    make_deconvolver(psf, method, **options)  # validate now, not inside a worker
    channel_axis = options.get("channel_axis")
    layout = _frames.Layout.of(_Shape(image), channel_axis)
    _frames.as_image(image._meta)  # dtype check
    _, out_dtype = _frames.dtypes(image.dtype, options.get("precision"))
    spatial = [a for a in range(image.ndim) if a != layout.channel_axis][-2:]
    task = _RestoreBlock(np.asarray(psf), method, options, fft_workers)
    meta = image._meta.astype(out_dtype)
    if all(len(image.chunks[a]) == 1 for a in spatial):
        return image.map_blocks(task, dtype=out_dtype, meta=meta, token=f"gpudeconv-{method}")
    if depth is None:
        depth = default_depth(psf, method, **options)
    if isinstance(depth, bool) or not isinstance(depth, numbers.Integral) or depth < 0:
        raise ValueError(f"depth must be a non-negative integer, got {depth!r}")
    if method == "wiener" and options.get("border", "harmonic") == "harmonic":
        return _periodic_tiles(image, task, spatial, depth, out_dtype, options)
    for a in spatial:
        if min(image.chunks[a]) < depth and len(image.chunks[a]) > 1:
            raise ValueError(
                f"spatial chunks must be at least depth={depth} pixels; axis {a} has "
                f"chunks {image.chunks[a]} (rechunk, or pass a smaller depth)"
            )
    # boundary="none": the outer edges get the package's own (reflect) border
    # handling, exactly as the whole image would.
    return da.map_overlap(
        task,
        image,
        depth={a: depth for a in spatial},
        boundary="none",
        trim=True,
        dtype=out_dtype,
        meta=meta,
        token=f"gpudeconv-{method}",
    )


def _periodic_tiles(image, task, spatial, depth, out_dtype, options):
    """Tiles of the harmonically extended frame, restored circularly with
    periodic overlap, cropped: the whole image's result, tile by tile."""
    work, _ = _frames.dtypes(image.dtype, options.get("precision"))
    padded, (rows, cols) = padded_frames(image, task.psf, spatial, work, options.get("pad"))
    axes = (padded.ndim - 2, padded.ndim - 1)
    chunks = {
        a: even_chunks(padded.shape[a], image.chunks[s]) for a, s in zip(axes, spatial, strict=True)
    }
    for a, s in zip(axes, spatial, strict=True):
        if min(chunks[a]) < depth and len(chunks[a]) > 1:
            raise ValueError(
                f"spatial chunks must be at least depth={depth} pixels; axis {s} has "
                f"chunks {image.chunks[s]} (rechunk, or pass a smaller depth)"
            )
    tile_options = {
        k: v for k, v in options.items() if k not in ("border", "pad", "channel_axis", "iterations")
    }
    tile = _RestoreBlock(
        task.psf, task.method, tile_options | {"border": "circular"}, task.fft_workers
    )
    restored = da.map_overlap(
        tile,
        padded.rechunk(chunks),
        depth={a: depth for a in axes},
        boundary="periodic",
        trim=True,
        dtype=work,
        meta=padded._meta,
        token=f"gpudeconv-{task.method}-tiles",
    )
    restored = da.moveaxis(restored[..., :rows, :cols], (-2, -1), spatial)
    restored = restored.map_blocks(finish, out_dtype, dtype=out_dtype)
    return restored.rechunk(image.chunks)


def wiener(image, psf, *, depth=None, fft_workers: int = 1, **options):
    """Lazy :func:`gpudeconv.wiener` of a dask array (see :func:`deconvolve`)."""
    options.setdefault("snr", 100.0)
    return deconvolve(image, psf, "wiener", depth=depth, fft_workers=fft_workers, **options)


def richardson_lucy(image, psf, *, depth=None, fft_workers: int = 1, **options):
    """Lazy :func:`gpudeconv.richardson_lucy` of a dask array (see :func:`deconvolve`)."""
    return deconvolve(
        image, psf, "richardson_lucy", depth=depth, fft_workers=fft_workers, **options
    )


class _Shape:
    """Just enough of an array for :class:`_frames.Layout` (no compute)."""

    def __init__(self, a):
        self.ndim, self.shape, self.size = a.ndim, a.shape, math.prod(a.shape)


# -- out of core -----------------------------------------------------------


class NpyStack:
    """A ``.npy`` file (C order) read and written a block of frames at a time
    with plain file I/O: no memory map, so only the blocks in flight occupy
    memory. Picklable: worker processes open the file themselves."""

    def __init__(self, path, *, shape=None, dtype=None):
        self.path = Path(path)
        if shape is None:
            with open(self.path, "rb") as f:
                version = np.lib.format.read_magic(f)
                read = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, fortran, dtype = read(f)
                if fortran:
                    raise ValueError(f"{self.path} is in Fortran order; save it in C order")
                self.offset = f.tell()
        else:
            self.offset = None
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.ndim = len(self.shape)

    @classmethod
    def create(cls, path, shape, dtype) -> NpyStack:
        """A new ``.npy`` file of ``shape`` and ``dtype`` (sparse on disk)."""
        path = Path(path)
        header = {
            "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
            "fortran_order": False,
            "shape": tuple(shape),
        }
        with open(path, "wb") as f:
            np.lib.format.write_array_header_2_0(f, header)
            offset = f.tell()
            f.truncate(offset + math.prod(shape) * np.dtype(dtype).itemsize)
        stack = cls(path, shape=shape, dtype=dtype)
        stack.offset = offset
        return stack

    def _frame_range(self, key):
        key = key if isinstance(key, tuple) else (key,)
        first = key[0] if key else slice(None)
        if (
            not isinstance(first, slice)
            or first.step not in (None, 1)
            or any(
                k != slice(None) and k != slice(0, n)
                for k, n in zip(key[1:], self.shape[1:], strict=False)  # key may be shorter
            )
        ):
            raise IndexError("NpyStack reads whole frames along the first axis")
        start, stop, _ = first.indices(self.shape[0])
        return start, stop

    def __getitem__(self, key):
        start, stop = self._frame_range(key)
        per = math.prod(self.shape[1:])
        count = max(0, stop - start) * per
        data = np.fromfile(
            self.path,
            dtype=self.dtype,
            count=count,
            offset=self.offset + start * per * self.dtype.itemsize,
        )
        return data.reshape((stop - start, *self.shape[1:]))

    def __setitem__(self, key, value):
        start, stop = self._frame_range(key)
        value = np.ascontiguousarray(value, dtype=self.dtype)
        per = math.prod(self.shape[1:])
        with open(self.path, "r+b") as f:
            f.seek(self.offset + start * per * self.dtype.itemsize)
            f.write(value.tobytes())


def _open_stack(path):
    path = Path(path)
    if path.suffix == ".npy":
        return NpyStack(path)
    import zarr

    return zarr.open_array(str(path), mode="r")


def restore_stack(
    source,
    target,
    psf,
    method: str = "wiener",
    *,
    frames_per_chunk=None,
    chunk_bytes: int = 64 * 2**20,
    overwrite: bool = False,
    **options,
):
    """Restore a stack on disk into another, chunk by chunk, out of core.

    Parameters
    ----------
    source : path
        A ``.npy`` file (read with plain file I/O, never loaded whole) or a
        zarr array, shaped ``(frames, ...)`` with the usual layout.
    target : path
        ``.npy`` or zarr (by its suffix: ``.zarr``); written chunk by chunk to
        a temporary name and renamed when complete, so a failed run leaves
        nothing at ``target``.
    frames_per_chunk : int, optional
        Frames per task (default: as many as fit ``chunk_bytes`` of input).
    **options
        The method's options; the computation uses the current dask
        scheduler (a ``distributed.Client`` if one is active).

    Returns
    -------
    target : Path
    """
    from .media.images import partial_file

    stack = _open_stack(source)
    target = Path(target)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; pass overwrite=True to replace it")
    per_frame = math.prod(stack.shape[1:]) * np.dtype(stack.dtype).itemsize
    if frames_per_chunk is None:
        frames_per_chunk = max(1, chunk_bytes // per_frame)
    chunks = (frames_per_chunk, *stack.shape[1:])
    lazy = deconvolve(
        da.from_array(stack, chunks=chunks, asarray=True, fancy=False), psf, method, **options
    )
    with partial_file(target) as tmp:
        if target.suffix == ".zarr":
            lazy.to_zarr(str(tmp))
        else:
            da.store(lazy, NpyStack.create(tmp, lazy.shape, lazy.dtype), lock=False)
    return target
