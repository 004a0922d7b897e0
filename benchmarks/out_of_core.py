"""Out-of-core restoration of a stack larger than the memory budget.

    python benchmarks/out_of_core.py [--gigabytes 2] [--workdir DIR]

Writes a ``.npy`` stack of 1024x1024 uint8 frames (about ``--gigabytes``
GB), restores it with ``gpudeconv.dask.restore_stack`` into another ``.npy``,
and reports the time and the peak resident memory of the process that did it
(``ru_maxrss``, which counts everything, memory-mapped pages included).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=2.0)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    n_frames = int(args.gigabytes * 1e9 // 2**20)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        source, target = Path(tmp) / "stack.npy", Path(tmp) / "restored.npy"
        script = textwrap.dedent(f"""
            import sys, numpy as np
            sys.path.insert(0, {str(ROOT)!r})
            from gpudeconv.dask import NpyStack
            stack = NpyStack.create({str(source)!r}, ({n_frames}, 1024, 1024), np.uint8)
            rng = np.random.default_rng(0)
            for i in range(0, {n_frames}, 64):
                n = min(64, {n_frames} - i)
                stack[i:i + n] = rng.integers(0, 256, (n, 1024, 1024), dtype=np.uint8)
        """)
        subprocess.run([sys.executable, "-c", script], check=True)
        restore = textwrap.dedent(f"""
            import resource, sys, time
            sys.path.insert(0, {str(ROOT)!r})
            import gpudeconv
            from gpudeconv.dask import restore_stack
            start = time.perf_counter()
            restore_stack({str(source)!r}, {str(target)!r}, gpudeconv.psf.motion(15, 30),
                          "wiener", snr=100.0, backend="numpy")
            seconds = time.perf_counter() - start
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{{seconds:.1f}} {{peak:.0f}}")
        """)
        out = subprocess.run(
            [sys.executable, "-c", restore], check=True, capture_output=True, text=True
        ).stdout.split()
        seconds, peak = float(out[0]), float(out[1])
        size = source.stat().st_size / 2**30
        print(
            f"stack {size:.2f} GiB ({n_frames} frames of 1024x1024 uint8): restored in "
            f"{seconds:.1f} s ({n_frames / seconds:.1f} frames/s); peak resident memory "
            f"{peak:.0f} MiB"
        )


if __name__ == "__main__":
    main()
