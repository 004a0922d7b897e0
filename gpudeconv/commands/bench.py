"""``gpudeconv bench``: frames per second on each backend, baselines included.

RGB uint8 frames (the built-in photo tiled to size), motion PSF 31 px at 60
degrees, snr 100, default border. For every available backend, size and batch
size: host to host (NumPy in, NumPy out) and, on the GPU, device-resident
(CuPy in, CuPy out, synchronised inside the timing). Baselines measured in the
same run, one frame at a time: the Stack Overflow answer's final code on the CPU and its
straightforward CuPy port on the GPU.
"""

from __future__ import annotations

import datetime
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .. import __version__
from .. import psf as psfs
from ..engine.dispatch import available_backends
from ..methods.wiener import Wiener
from . import options

SIZES = {"512": (512, 512), "1080p": (1080, 1920), "4k": (2160, 3840)}
#: How much slower per frame the Stack Overflow answer's code is than
#: gpudeconv on the CPU (README's CPU table: 27x); for the time estimate only.
BASELINE_SLOWDOWN = 27
#: Runs estimated to take longer than this (seconds) say so before starting.
LONG_RUN = 60


def frames(size: str, batch: int) -> np.ndarray:
    """``batch`` RGB uint8 frames of ``size``: the built-in photo, tiled."""
    from .demo import builtin_image

    rows, cols = SIZES[size]
    photo = builtin_image()
    reps = (-(-rows // photo.shape[0]), -(-cols // photo.shape[1]), 1)
    frame = np.tile(photo, reps)[:rows, :cols]
    return np.ascontiguousarray(np.broadcast_to(frame, (batch, rows, cols, 3)))


def best_time(fn: Callable[[], object], repeat: int, synchronize: Callable[[], None]) -> float:
    fn()  # warm-up: plans, kernels, the memory pool
    synchronize()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def _sync(backend: str) -> Callable[[], None]:
    if backend != "cupy":
        return lambda: None
    import cupy

    return lambda: cupy.cuda.Device().synchronize()


def device_name(backend: str) -> str:
    if backend == "cupy":
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = props["name"]
        return name.decode() if isinstance(name, bytes) else str(name)
    return f"{platform.machine()} CPU"


def run_bench(
    sizes=("512", "1080p", "4k"),
    batch_sizes=(1, 8, 32),
    backends=None,
    *,
    repeat: int = 3,
    baselines: bool = True,
    log: Callable[[str], None] = print,
) -> dict:
    """Measure; return a report ``{"meta": ..., "rows": [...]}``."""
    backends = tuple(backends or available_backends())
    for size in sizes:
        if size not in SIZES:
            raise ValueError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
    kernel = psfs.motion(31, 60)
    rows = []

    def record(backend, method, mode, size, batch, seconds):
        row = dict(
            backend=backend,
            method=method,
            mode=mode,
            size=size,
            batch=batch,
            fps=batch / seconds,
            ms_per_frame=seconds / batch * 1e3,
        )
        rows.append(row)
        log(
            f"{backend:6s} {method:10s} {mode:14s} {size:6s} batch {batch:3d}: "
            f"{row['fps']:9.1f} frames/s ({row['ms_per_frame']:.2f} ms/frame)"
        )

    for backend in backends:
        sync = _sync(backend)
        for size in sizes:
            restore = Wiener(kernel, snr=100, channel_axis=-1, backend=backend)
            for batch in batch_sizes:
                host = frames(size, batch)
                record(
                    backend,
                    "gpudeconv",
                    "host-to-host",
                    size,
                    batch,
                    best_time(lambda r=restore, h=host: r(h), repeat, sync),
                )
                if backend == "cupy":
                    import cupy

                    device = cupy.asarray(host)
                    record(
                        backend,
                        "gpudeconv",
                        "device",
                        size,
                        batch,
                        best_time(lambda r=restore, d=device: r(d), repeat, sync),
                    )
                    del device
            if baselines:
                from .baselines import seed_wiener, seed_wiener_cupy

                one = frames(size, 1)[0]
                seed = seed_wiener_cupy if backend == "cupy" else seed_wiener
                name = "seed-cupy" if backend == "cupy" else "seed"
                record(
                    backend,
                    name,
                    "host-to-host",
                    size,
                    1,
                    best_time(lambda f=seed, x=one: f(x, kernel), max(1, repeat // 2), sync),
                )
    meta = {
        "gpudeconv": __version__,
        "date": datetime.date.today().isoformat(),
        "numpy": np.__version__,
        "devices": {b: device_name(b) for b in backends},
        "psf": "motion 31 px at 60 degrees",
        "dtype": "uint8 RGB",
    }
    if "cupy" in backends:
        import cupy

        meta["cupy"] = cupy.__version__
    report = {"meta": meta, "rows": rows}
    log("")
    log(format_table(report))
    return report


def format_table(report: dict) -> str:
    """A Markdown table, with each gpudeconv row's speed-up over the baseline
    of its backend and size."""
    rows = report["rows"]
    base = {(r["backend"], r["size"]): r["fps"] for r in rows if r["method"].startswith("seed")}
    lines = [
        "| backend | method | mode | size | batch | frames/s | ms/frame | x seed baseline |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        ref = base.get((r["backend"], r["size"]))
        speedup = f"{r['fps'] / ref:.1f}" if ref else ""
        lines.append(
            f"| {r['backend']} | {r['method']} | {r['mode']} | {r['size']} | {r['batch']} | "
            f"{r['fps']:.1f} | {r['ms_per_frame']:.2f} | {speedup} |"
        )
    return "\n".join(lines)


def write_json(report: dict, path) -> None:
    Path(path).write_text(json.dumps(report, indent=2) + "\n")


def write_plot(report: dict, path) -> None:
    """Frames per second by size, one bar per backend/method/mode/batch."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("--plot needs matplotlib: pip install 'gpudeconv[plot]'") from exc
    rows = report["rows"]
    sizes = list(dict.fromkeys(r["size"] for r in rows))
    series = list(dict.fromkeys((r["backend"], r["method"], r["mode"], r["batch"]) for r in rows))
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(sizes) + 0.25 * len(series)), 4.5))
    width = 0.8 / max(1, len(series))
    for k, key in enumerate(series):
        values = [
            next(
                (
                    r["fps"]
                    for r in rows
                    if (r["backend"], r["method"], r["mode"], r["batch"]) == key and r["size"] == s
                ),
                0.0,
            )
            for s in sizes
        ]
        ax.bar(
            np.arange(len(sizes)) + k * width,
            values,
            width,
            label=f"{key[0]} {key[1]} {key[2]} x{key[3]}",
        )
    ax.set_xticks(np.arange(len(sizes)) + width * (len(series) - 1) / 2, sizes)
    ax.set_yscale("log")
    ax.set_ylabel("frames per second (log)")
    ax.set_title("gpudeconv bench: RGB uint8, motion 31 px, snr 100")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def register(sub, parents) -> None:
    """Add the ``bench`` subcommand; ``parents`` are the restore options (for the
    commands that restore) and ``--debug``."""
    bench = sub.add_parser(
        "bench",
        parents=parents[-1:],
        help="frames per second on each backend, with the Stack Overflow answer's code as baseline",
        description="Restore RGB uint8 frames (motion 31 px at 60 degrees, snr 100) on each "
        "available backend, host to host and (GPU) device-resident, at several sizes and "
        "batch sizes; the Stack Overflow answer's code (CPU) and its CuPy port (GPU) are "
        "measured in the same run.",
    )
    bench.add_argument(
        "--sizes",
        nargs="+",
        default=["512", "1080p", "4k"],
        choices=["512", "1080p", "4k"],
        help="(default: all)",
    )
    bench.add_argument(
        "--batch-sizes",
        nargs="+",
        type=options.positive_int,
        default=[1, 8, 32],
        metavar="N",
        help="(default: 1 8 32)",
    )
    bench.add_argument(
        "--backends",
        nargs="+",
        choices=["numpy", "cupy"],
        help="(default: every available backend)",
    )
    bench.add_argument(
        "--repeat", type=options.positive_int, default=3, help="best of N (default: 3)"
    )
    bench.add_argument(
        "--quick", action="store_true", help="512 and 1080p, batches 1 and 8, best of 2"
    )
    bench.add_argument(
        "--no-baselines",
        action="store_true",
        help="skip the baselines (the Stack Overflow answer's code)",
    )
    bench.add_argument("--json", metavar="FILE", help="write the measurements as JSON")
    bench.add_argument("--plot", metavar="FILE", help="draw frames/s as a PNG (matplotlib)")
    bench.set_defaults(run=run)


def gpu_skip_reason() -> str | None:
    """Why the GPU cannot be measured here, or None when it can."""
    if "cupy" in available_backends():
        return None
    try:
        import cupy
    except ImportError:
        return "CuPy is not installed (pip install 'gpudeconv[cuda12]' or 'gpudeconv[cuda13]')"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError, a missing driver library...
        return f"CuPy finds no usable CUDA device ({type(exc).__name__}: {exc})"
    return "CuPy finds no CUDA device" if count < 1 else "CuPy is not usable"


def estimate_seconds(sizes, batch_sizes, *, repeat: int, baselines: bool) -> float:
    """The CPU's share of a run, from one 512x512 frame timed now and scaled
    by pixel count (warm-ups and baselines included)."""
    probe = frames("512", 1)
    restore = Wiener(psfs.motion(31, 60), snr=100, channel_axis=-1, backend="numpy")
    per_pixel = best_time(lambda: restore(probe), 1, lambda: None) / probe[0, ..., 0].size
    total = 0.0
    for size in sizes:
        rows, cols = SIZES[size]
        count = sum(batch_sizes) * (repeat + 1)
        if baselines:
            count += BASELINE_SLOWDOWN * (max(1, repeat // 2) + 1)
        total += count * rows * cols * per_pixel
    return total


def run(args) -> int:
    backends = args.backends or available_backends()
    if "cupy" in backends and "cupy" not in available_backends():
        raise RuntimeError(
            f"--backends cupy was asked for but no GPU is usable here: {gpu_skip_reason()}"
        )
    if not args.backends and "cupy" not in backends:
        print(f"gpudeconv bench: GPU skipped: {gpu_skip_reason()}", file=sys.stderr, flush=True)
    sizes, batches, repeat = args.sizes, args.batch_sizes, args.repeat
    if args.quick:
        sizes, batches, repeat = ["512", "1080p"], [1, 8], 2
    if "numpy" in backends:
        seconds = estimate_seconds(sizes, batches, repeat=repeat, baselines=not args.no_baselines)
        if seconds > LONG_RUN:
            print(
                f"gpudeconv bench: the CPU part will take about {seconds / 60:.0f} min "
                "(--quick, or fewer --sizes and --batch-sizes, for a shorter run)",
                file=sys.stderr,
                flush=True,
            )
    report = run_bench(sizes, batches, backends, repeat=repeat, baselines=not args.no_baselines)
    if args.json:
        write_json(report, args.json)
        print(f"wrote {args.json}")
    if args.plot:
        write_plot(report, args.plot)
        print(f"wrote {args.plot}")
    return 0
