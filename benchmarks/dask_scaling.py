"""Throughput of gpudeconv.dask with 1 and 2 single-threaded worker processes.

    python benchmarks/dask_scaling.py [--frames 48] [--chunk 4]

A batch of 1080p RGB uint8 frames (the built-in photo tiled, made on the
workers, so no data crosses the network) restored by ``gpudeconv.dask.wiener``
on a LocalCluster of 1, then 2, worker processes of one thread each.
Cluster start-up and a warm-up run are excluded from the timing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_frames(block_info=None):
    from gpudeconv.commands.bench import frames

    n = block_info[None]["chunk-shape"][0]
    return frames("1080p", n)


def run(n_workers: int, n_frames: int, chunk: int) -> float:
    import dask.array as da
    from distributed import Client, LocalCluster

    import gpudeconv
    import gpudeconv.dask as gd

    with (
        LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        stack = da.map_blocks(
            make_frames,
            chunks=((chunk,) * (n_frames // chunk), (1080,), (1920,), (3,)),
            dtype=np.uint8,
            meta=np.empty((0, 0, 0, 0), np.uint8),
        )
        restored = gd.wiener(stack, gpudeconv.psf.motion(31, 60), channel_axis=-1, backend="numpy")
        checksum = restored.sum()
        client.compute(checksum).result()  # warm-up: plans, imports
        start = time.perf_counter()
        client.compute(checksum).result()
        return n_frames / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--chunk", type=int, default=4)
    args = parser.parse_args(argv)
    one = run(1, args.frames, args.chunk)
    two = run(2, args.frames, args.chunk)
    print(
        f"1 worker: {one:.1f} frames/s; 2 workers: {two:.1f} frames/s; "
        f"ratio {two / one:.2f} (1080p RGB uint8, {args.frames} frames in chunks of "
        f"{args.chunk})"
    )


if __name__ == "__main__":
    main()
