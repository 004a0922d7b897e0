"""How the default border compares with the seed thread's padding.

    python benchmarks/padding_study.py

For Set12 Peppers and the built-in photo, blurred (mirror borders) by three
motion kernels and the 8 Levin et al. camera-shake kernels, prints the PSNR of
the seed's method (50-px reflect padding) and, relative to it, gpudeconv's
exact reflect padding and its seamless ``border="reflect"``, each with padding
of 1x and 2x the PSF's extent, and the default ``border="harmonic"``.
Mirror-blurred frames favour mirroring; ``benchmarks/borders.py`` measures
the borders on frames cut from a larger scene, as a camera sees them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gpudeconv  # noqa: E402
from gpudeconv.commands.baselines import seed_wiener  # noqa: E402
from gpudeconv.commands.demo import builtin_image, psnr  # noqa: E402


class ExactReflectWiener(gpudeconv.Wiener):
    seamless = False


def main() -> None:
    data = ROOT / "tests" / "data"
    images = {
        "peppers": (cv2.imread(str(data / "03.png"), cv2.IMREAD_GRAYSCALE), None),
        "astronaut": (builtin_image(), -1),
    }
    with np.load(data / "levin09_kernels.npz") as f:
        kernels = {
            f"motion{L}@{A}": gpudeconv.psf.motion(L, A) for L, A in [(31, 60), (15, 30), (21, 0)]
        }
        kernels.update({name: f[name] for name in sorted(f.files)})
    header = ["image", "kernel", "seed dB", "exact 1x", "exact 2x", "seamless 1x", "seamless 2x"]
    header.append("harmonic (default)")
    print(" | ".join(header))
    gains = []
    for image_name, (sharp, channel_axis) in images.items():
        for kernel_name, kernel in kernels.items():
            blurred = gpudeconv.blur(sharp, kernel, channel_axis=channel_axis, backend="numpy")
            seed = psnr(sharp, seed_wiener(blurred, kernel))
            row = []
            for cls in (ExactReflectWiener, gpudeconv.Wiener):
                for factor in (1, 2):
                    pad = tuple(factor * n for n in kernel.shape)
                    restore = cls(
                        kernel,
                        pad=pad,
                        border="reflect",
                        channel_axis=channel_axis,
                        backend="numpy",
                    )
                    row.append(psnr(sharp, restore(blurred)) - seed)
            default = gpudeconv.Wiener(kernel, channel_axis=channel_axis, backend="numpy")
            row.append(psnr(sharp, default(blurred)) - seed)
            gains.append(row)
            print(
                f"{image_name} | {kernel_name} | {seed:.2f} | "
                + " | ".join(f"{g:+.2f}" for g in row)
            )
    gains = np.array(gains)
    print("mean | | | " + " | ".join(f"{g:+.2f}" for g in gains.mean(axis=0)))
    print("min  | | | " + " | ".join(f"{g:+.2f}" for g in gains.min(axis=0)))


if __name__ == "__main__":
    main()
