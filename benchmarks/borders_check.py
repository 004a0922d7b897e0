"""Independent check of the default border on photos it was not designed on.

    python benchmarks/borders_check.py

scikit-image's bundled astronaut, coffee, chelsea and rocket photos (reserved
for checks: nothing in gpudeconv was tuned on them), each blurred as a whole
by linear motion of 15-41 px and cropped by 50 px (light from outside the
frame reaches its edges), rounded to 8 bits. Full-frame PSNR of the default
``border="harmonic"`` against the plain harmonic extension by one PSF extent
(the default until 2026-11-30), each at its best snr over 100..3000.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import scipy.signal
import skimage.data

sys.path.insert(0, str(Path(__file__).resolve().parent))

import borders  # noqa: E402

import gpudeconv  # noqa: E402

SNRS = (100, 300, 1000, 3000)
MARGIN = 50


def main() -> None:
    gains = []
    print("| photo | motion | plain harmonic | default | gain |")
    print("|---|---|---:|---:|---:|")
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        image = getattr(skimage.data, name)().astype(np.float64)
        for length, angle in ((21, 30), (31, 120), (41, 75), (15, 0)):
            psf = gpudeconv.psf.motion(length, angle)
            blurred = np.stack(
                [scipy.signal.fftconvolve(image[..., c], psf, mode="same") for c in range(3)], -1
            )
            crop = (slice(MARGIN, -MARGIN), slice(MARGIN, -MARGIN))
            sharp = image[crop]
            frame = np.clip(np.round(blurred[crop]), 0, 255).astype(np.uint8)[None]
            new = max(borders.psnr(sharp, borders.ours(frame, psf, s, "harmonic")[0]) for s in SNRS)
            old = max(borders.psnr(sharp, borders.plain_harmonic(frame, psf, s)[0]) for s in SNRS)
            gains.append(new - old)
            print(f"| {name} | {length} @ {angle} | {old:.2f} | {new:.2f} | {new - old:+.2f} |")
            sys.stdout.flush()
    print(f"\nmean gain {np.mean(gains):+.2f} dB, least {np.min(gains):+.2f} dB")


if __name__ == "__main__":
    main()
