"""How much the streamed GPU path overlaps, and what snr="auto" costs, in one run.

For 1080p RGB uint8 frames (motion 31 px at 60 degrees, snr 100), batches of
1, 8 and 32, measured in the same run on the same card:

- serial: upload (``cupy.asarray``), device-resident compute and download
  (``.get()``), each timed alone and summed;
- host to host: one call with NumPy in and NumPy out (the streamed path);
- the overlap ratio, host to host over serial (goal <= 0.6);
- device-resident frames/s with ``snr="auto"`` over fixed snr (goal >= 0.5).

Reported, never asserted: ``python benchmarks/gpu_overlap.py [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import gpudeconv
from gpudeconv.commands.bench import frames


def best(fn, repeat: int, sync) -> float:
    fn()
    sync()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(batches=(1, 8, 32), repeat: int = 5) -> list[dict]:
    import cupy

    def sync():
        cupy.cuda.Device().synchronize()

    kernel = gpudeconv.psf.motion(31, 60)
    fixed = gpudeconv.Wiener(kernel, snr=100, channel_axis=-1, backend="cupy")
    auto = gpudeconv.Wiener(kernel, snr="auto", channel_axis=-1, backend="cupy")
    rows = []
    for batch in batches:
        host = frames("1080p", batch)
        device = cupy.asarray(host)
        restored = fixed(device)
        t_up = best(lambda host=host: cupy.asarray(host), repeat, sync)
        t_compute = best(lambda device=device: fixed(device), repeat, sync)
        t_down = best(lambda restored=restored: restored.get(), repeat, sync)
        t_host = best(lambda host=host: fixed(host), repeat, sync)
        t_auto = best(lambda device=device: auto(device), repeat, sync)
        serial = t_up + t_compute + t_down
        rows.append(
            {
                "batch": batch,
                "upload_ms": 1e3 * t_up,
                "compute_ms": 1e3 * t_compute,
                "download_ms": 1e3 * t_down,
                "serial_ms": 1e3 * serial,
                "host_to_host_ms": 1e3 * t_host,
                "overlap_ratio": t_host / serial,
                "resident_fps": batch / t_compute,
                "host_to_host_fps": batch / t_host,
                "auto_resident_fps": batch / t_auto,
                "auto_over_fixed": t_compute / t_auto,
            }
        )
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the rows to this file")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    args = parser.parse_args(argv)
    if "cupy" not in gpudeconv.available_backends():
        print("gpu_overlap: no usable GPU (CuPy with a CUDA device); nothing measured")
        return 0
    rows = measure(tuple(args.batches), args.repeat)
    print(
        "| batch | upload ms | compute ms | download ms | serial ms | host->host ms "
        "| overlap ratio | resident fps | host->host fps | auto/fixed |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['batch']} | {r['upload_ms']:.2f} | {r['compute_ms']:.2f} | "
            f"{r['download_ms']:.2f} | {r['serial_ms']:.2f} | {r['host_to_host_ms']:.2f} | "
            f"{r['overlap_ratio']:.2f} | {r['resident_fps']:.0f} | "
            f"{r['host_to_host_fps']:.0f} | {r['auto_over_fixed']:.2f} |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
