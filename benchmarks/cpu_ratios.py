"""CPU speed and memory of gpudeconv against its baselines, measured in one run.

    python benchmarks/cpu_ratios.py [--repeat 5] [--batch 64] [--json FILE]

Per 1080p RGB uint8 frame, motion PSF 31 px at 60 degrees, snr 100, default
border: gpudeconv's Wiener, the seed thread's final code
(``gpudeconv/_baselines.py``), scikit-image's ``wiener`` on the three channels, and
the "FFT floor" (a bare ``scipy.fft.rfft2`` + ``irfft2`` of the three unpadded
planes), each timed as the best of ``--repeat`` runs. Then the working memory
(peak traced allocations beyond input and output) of a batch of ``--batch``
frames.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import scipy.fft

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gpudeconv  # noqa: E402
from gpudeconv.commands.baselines import seed_kernel, seed_wiener  # noqa: E402

SHAPE = (1080, 1920, 3)


def best_of(fn, repeat: int) -> float:
    fn()  # warm-up: plans, caches, page faults
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def frame() -> np.ndarray:
    """A real photo tiled to 1080p (random noise would flatter nothing, but a
    photo is what users restore)."""
    import cv2

    from gpudeconv.commands.demo import builtin_image

    photo = builtin_image()
    tiled = np.tile(photo, (3, 5, 1))[: SHAPE[0], : SHAPE[1]]
    return cv2.GaussianBlur(tiled, (0, 0), 0.5)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--skip-slow", action="store_true", help="skip the seed and scikit-image")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    image = frame()
    kernel = gpudeconv.psf.motion(31, 60)
    restore = gpudeconv.Wiener(kernel, snr=100, channel_axis=-1, backend="numpy")
    planes = np.ascontiguousarray(image.transpose(2, 0, 1)).astype(np.float32)
    workers = gpudeconv.engine.backend.fft_workers()

    def floor(w):
        return lambda: scipy.fft.irfft2(scipy.fft.rfft2(planes, workers=w), s=SHAPE[:2], workers=w)

    results = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "fft_workers": workers,
        "seconds_per_frame": {},
    }
    timings = results["seconds_per_frame"]
    timings["gpudeconv"] = best_of(lambda: restore(image), args.repeat)
    # The mirror border: the FFT of the padded frame and nothing else, so the
    # ratio is what the default border's extension costs.
    mirrored = gpudeconv.Wiener(kernel, snr=100, border="reflect", channel_axis=-1, backend="numpy")
    timings["gpudeconv_reflect"] = best_of(lambda: mirrored(image), args.repeat)
    timings["fft_floor_1_worker"] = best_of(floor(1), args.repeat)
    timings[f"fft_floor_{workers}_workers"] = best_of(floor(workers), args.repeat)
    if not args.skip_slow:
        from skimage.restoration import wiener as sk_wiener

        k32 = seed_kernel(31, 60)
        timings["seed"] = best_of(
            lambda: seed_wiener(image, k32, 100, 50), max(1, args.repeat // 2)
        )

        def skimage_three_channels():
            as_float = image.astype(np.float64) / 255
            return [sk_wiener(as_float[..., c], kernel, 0.01) for c in range(3)]

        timings["skimage_wiener"] = best_of(skimage_three_channels, max(1, args.repeat // 2))

    ours = timings["gpudeconv"]
    results["ratios"] = {
        name: value / ours for name, value in timings.items() if name != "gpudeconv"
    }

    batch = np.repeat(image[None], args.batch, axis=0)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    restored = restore(batch)
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    working = peak - restored.nbytes  # the output is allocated inside the call
    results["batch"] = {
        "frames": args.batch,
        "input_bytes": batch.nbytes,
        "working_bytes": working,
        "working_gib": working / 2**30,
    }

    print(
        f"{results['machine']}; numpy {np.__version__}, scipy {scipy.__version__}; "
        f"FFT workers {workers}"
    )
    print(f"{'per 1080p RGB uint8 frame':32s} {'ms':>9s} {'x gpudeconv':>12s}")
    for name, value in timings.items():
        ratio = value / ours
        print(f"{name:32s} {value * 1e3:9.1f} {ratio:12.2f}")
    print(
        f"batch of {args.batch} frames: working memory {working / 2**20:.0f} MiB "
        f"beyond input ({batch.nbytes / 2**20:.0f} MiB) and output"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
