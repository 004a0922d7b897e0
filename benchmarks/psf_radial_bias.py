"""Signed error of the Gaussian sigma or disk radius that ``estimate_psf``
finds, against the true one, and how often the family is named right.

    python benchmarks/psf_radial_bias.py [--family gaussian] [--sizes 1 2 3 4 4.5 5]
    python benchmarks/psf_radial_bias.py --family disk --sizes 2 2.4 2.8 3.2

Every photo of ``../shared/data`` (Set12 and the colour photos; never
scikit-image's bundled ones) blurred like ``psf_estimation.py`` does (true
convolution of the larger scene, 8-bit) by each size, under noise 0, 0.5 and
2 grey levels, each also saved as JPEG quality 85. The estimate runs with
``kind="auto"``; a wrong family counts as a miss. Prints the median signed
error per size and condition with the share within the issue's target
(sigma within 15 %, radius within 1 px), and per photo over the two largest
sizes: a bias shows as a sign that does not average out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psf_estimation as bench  # noqa: E402

import gpudeconv  # noqa: E402

CONDITIONS = tuple((f"{'jpeg ' if jpeg else ''}noise {noise:g}", noise, jpeg)
                   for jpeg in (False, True) for noise in (0.0, 0.5, 2.0))  # fmt: skip
#: (parameter, generator, error in the target's unit, target).
FAMILIES = {
    "gaussian": ("sigma", gpudeconv.psf.gaussian, lambda got, true: 100 * (got - true) / true, 15),
    "disk": ("radius", gpudeconv.psf.disk, lambda got, true: got - true, 1.0),
}


def run(family, sizes, seed=0):
    """Rows of (photo, size, condition, kind found, signed error or nan)."""
    param, generator, error, _ = FAMILIES[family]
    rng = np.random.default_rng(seed)
    rows = []
    for name, sharp in bench.load_images():
        for size in sizes:
            kernel = generator(size)
            for label, noise, jpeg in CONDITIONS:
                blurred, _ = bench.degrade(sharp, kernel, noise, jpeg, rng)
                axis = -1 if blurred.ndim == 3 else None
                est = gpudeconv.estimate_psf(blurred, channel_axis=axis, backend="numpy")
                got = est.params[param] if est.kind == family else np.nan
                rows.append((name, size, label, est.kind, error(got, size)))
    return rows


def report(family, rows, sizes) -> str:
    param, _, _, target = FAMILIES[family]
    unit = "%" if family == "gaussian" else "px"
    labels = [c[0] for c in CONDITIONS]
    lines = [f"{family}: median signed {param} error ({unit}) [share within {target:g} {unit}, "
             "right family]", "", f"| {param} | " + " | ".join(labels) + " | all |",
             "|---" * (len(labels) + 2) + "|"]  # fmt: skip
    for size in sizes:
        cells = []
        for label in [*labels, None]:
            e = np.array([r[4] for r in rows if r[1] == size and label in (None, r[2])])
            ok = np.mean(np.abs(np.nan_to_num(e, nan=np.inf)) <= target)
            med = f"{np.nanmedian(e):+.2f}" if np.isfinite(e).any() else "-"
            cells.append(f"{med} [{ok:.0%}]")
        lines.append(f"| {size:g} | " + " | ".join(cells) + " |")
    large = sorted(sizes)[-2:]
    lines += ["", f"per photo, {param} {' and '.join(map(str, large))}: median signed error, "
              "worst, misses", ""]  # fmt: skip
    for name in dict.fromkeys(r[0] for r in rows):
        e = np.array([r[4] for r in rows if r[0] == name and r[1] in large])
        worst = e[np.nanargmax(np.abs(e))] if np.isfinite(e).any() else np.nan
        misses = int(np.sum(~(np.abs(np.nan_to_num(e, nan=np.inf)) <= target)))
        lines.append(f"{name:26s} {np.nanmedian(e):+7.2f} {worst:+7.2f} {misses:3d}")
    e = np.array([r[4] for r in rows])
    named = np.mean([r[3] == family for r in rows])
    within = np.mean(np.abs(np.nan_to_num(e, nan=np.inf)) <= target)
    lines += ["", f"all {len(rows)}: median {np.nanmedian(e):+.2f} {unit}, |error| median "
              f"{np.nanmedian(np.abs(e)):.2f} {unit}, within target {within:.1%}, "
              f"named {family} {named:.1%}"]  # fmt: skip
    others = sorted({r[3] for r in rows} - {family})
    for kind in others:
        wrong = [r for r in rows if r[3] == kind]
        by_size = ", ".join(f"{size:g}: {sum(r[1] == size for r in wrong)}" for size in sizes)
        by_label = ", ".join(f"{label}: {sum(r[2] == label for r in wrong)}" for label in labels)
        lines.append(f"named {kind} {len(wrong)}: by size {by_size}; by condition {by_label}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="gaussian", choices=sorted(FAMILIES))
    parser.add_argument("--sizes", type=float, nargs="+", help="sigmas or radii")
    args = parser.parse_args(argv)
    sizes = args.sizes or ([1, 2, 3, 4, 4.5, 5] if args.family == "gaussian" else [2, 2.5, 3, 5, 8])
    print(report(args.family, run(args.family, sizes), sizes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
