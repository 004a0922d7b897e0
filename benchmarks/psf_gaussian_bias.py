"""Signed error of the Gaussian sigma that ``estimate_psf`` finds, against sigma.

    python benchmarks/psf_gaussian_bias.py [--sigmas 1 2 3 4 4.5 5] [--kind gaussian]

Every photo of ``../shared/data`` (Set12 and the colour photos; never
scikit-image's bundled ones) blurred like ``psf_estimation.py`` does (true
convolution of the larger scene, 8-bit) by each sigma, under noise 0, 0.5
and 2 grey levels and JPEG quality 85 (noise 0.5). Prints the median signed
error per sigma and condition, and per photo over the large sigmas: a bias
shows up as a sign that does not average out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psf_estimation as bench  # noqa: E402

import gpudeconv  # noqa: E402

CONDITIONS = (("noise 0", 0.0, False), ("noise 0.5", 0.5, False), ("noise 2", 2.0, False),
              ("jpeg 85", 0.5, True))  # fmt: skip


def run(sigmas, kind, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for name, sharp in bench.load_images():
        for sigma in sigmas:
            kernel = gpudeconv.psf.gaussian(sigma)
            for label, noise, jpeg in CONDITIONS:
                blurred, _ = bench.degrade(sharp, kernel, noise, jpeg, rng)
                axis = -1 if blurred.ndim == 3 else None
                est = gpudeconv.estimate_psf(blurred, kind, channel_axis=axis, backend="numpy")
                got = est.params.get("sigma", np.nan)
                rows.append((name, sigma, label, est.kind, 100 * (got - sigma) / sigma))
    return rows


def report(rows, sigmas) -> str:
    lines = ["median signed sigma error (%) [share within 15 %]", "",
             "| sigma | " + " | ".join(c[0] for c in CONDITIONS) + " | all |",
             "|---" * (len(CONDITIONS) + 2) + "|"]  # fmt: skip
    for sigma in sigmas:
        cells = []
        for label in [c[0] for c in CONDITIONS] + [None]:
            e = np.array([r[4] for r in rows if r[1] == sigma and label in (None, r[2])])
            cells.append(f"{np.nanmedian(e):+.1f} [{np.mean(np.abs(e) <= 15):.0%}]")
        lines.append(f"| {sigma:g} | " + " | ".join(cells) + " |")
    lines += ["", "per photo, sigma >= 4: median signed error (%), worst", ""]
    for name in dict.fromkeys(r[0] for r in rows):
        e = np.array([r[4] for r in rows if r[0] == name and r[1] >= 4])
        lines.append(f"{name:26s} {np.nanmedian(e):+6.1f} {e[np.nanargmax(np.abs(e))]:+6.1f}")
    e = np.array([r[4] for r in rows])
    named = np.mean([r[3] == "gaussian" for r in rows])
    lines += ["", f"all: median {np.nanmedian(e):+.1f} %, |err| median "
              f"{np.nanmedian(np.abs(e)):.1f} %, within 15 % {np.mean(np.abs(e) <= 15):.1%}, "
              f"named gaussian {named:.1%}"]  # fmt: skip
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sigmas", type=float, nargs="+", default=[1, 2, 3, 4, 4.5, 5])
    parser.add_argument("--kind", default="gaussian", choices=("gaussian", "auto"))
    args = parser.parse_args(argv)
    rows = run(args.sigmas, args.kind)
    print(report(rows, args.sigmas))
    return 0


if __name__ == "__main__":
    sys.exit(main())
