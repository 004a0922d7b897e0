"""Restoration quality of every method, against scikit-image and the seed.

    python benchmarks/quality.py [--images 12] [--sigmas 0.005 0.01 0.02]
                                 [--out benchmarks/results] [--speed] [--photos]

Set12 images x the 8 Levin et al. (2009) camera-shake kernels x noise levels,
with realistic borders: the whole image is blurred and only the part whose
blur is fully determined by the image is kept (``fftconvolve(mode="valid")``),
as a camera sees the centre of a larger scene; then white Gaussian noise.
For each method: mean PSNR and SSIM against the matching crop of the sharp
image, and the mean time per image on the CPU. "Best constant" rows pick, per
noise level, the one constant that maximises the mean PSNR (hindsight).

``--speed`` also times each method on a 1080p grey frame (total and per
iteration) on every available backend.

``--photos`` runs the colour, 8-bit, low-noise suite instead
(``benchmarks/photo_suite.py``): 5 colour photographs x 9 blurs x noise 0,
0.5, 1 and 2 grey levels, every method against the best constant snr in
hindsight; writes ``quality_photos.json`` and ``quality_photos.md``. With
``--images N`` it takes the first N photographs only (a quicker look).

Writes ``quality.json``, ``quality.md`` and ``quality.png`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import scipy.signal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import gpudeconv  # noqa: E402
from gpudeconv.commands.baselines import seed_wiener  # noqa: E402

WIENER_SNRS = (10, 17.8, 31.6, 56.2, 100, 178, 316, 562)
SKIMAGE_BALANCES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


def data_dirs():
    shared = ROOT.parent / "shared" / "data"
    if not (shared / "set12").is_dir():
        raise SystemExit(f"needs the Set12 images in {shared / 'set12'}")
    return shared


def realistic(sharp, kernel, sigma, seed):
    valid = scipy.signal.fftconvolve(sharp, kernel, mode="valid")
    r0, c0 = (kernel.shape[0] - 1) // 2, (kernel.shape[1] - 1) // 2
    truth = sharp[r0 : r0 + valid.shape[0], c0 : c0 + valid.shape[1]]
    return truth, valid + sigma * np.random.default_rng(seed).standard_normal(valid.shape)


def psnr(truth, estimate):
    return float(10 * np.log10(1.0 / np.mean((truth - estimate) ** 2)))


def methods():
    """name -> restore(noisy, kernel); names with '@' form hindsight groups."""
    from skimage.restoration import richardson_lucy as sk_rl
    from skimage.restoration import unsupervised_wiener
    from skimage.restoration import wiener as sk_wiener

    table = {}
    table["seed (snr 100, pad 50)"] = lambda y, k: seed_wiener(y * 255, k, 100, 50) / 255.0
    for snr in WIENER_SNRS:
        table[f"gpudeconv wiener@{snr}"] = lambda y, k, s=snr: gpudeconv.wiener(
            y, k, snr=s, backend="numpy"
        )
    table["gpudeconv wiener snr=auto"] = lambda y, k: gpudeconv.wiener(
        y, k, snr="auto", backend="numpy"
    )
    table["gpudeconv richardson_lucy (30)"] = lambda y, k: gpudeconv.richardson_lucy(
        y, k, iterations=30, backend="numpy"
    )
    table["gpudeconv sparse (auto)"] = lambda y, k: gpudeconv.sparse_deconvolve(
        y, k, backend="numpy"
    )
    for balance in SKIMAGE_BALANCES:
        table[f"skimage wiener@{balance}"] = lambda y, k, b=balance: sk_wiener(y, k, b, clip=False)
    table["skimage unsupervised_wiener"] = lambda y, k: unsupervised_wiener(
        y, k, clip=False, rng=0
    )[0]
    table["skimage richardson_lucy (30)"] = lambda y, k: sk_rl(y, k, num_iter=30, clip=False)
    return table


def run_quality(n_images, sigmas, log=print):
    from skimage.metrics import structural_similarity

    shared = data_dirs()
    images = sorted((shared / "set12").glob("*.png"))[:n_images]
    with np.load(shared / "levin09_kernels.npz") as f:
        kernels = [f[name] for name in sorted(f.files)]
    table = methods()
    scores = {}  # (sigma, name) -> [psnr], [ssim], seconds
    for sigma in sigmas:
        for i, path in enumerate(images):
            sharp = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) / 255.0
            for j, kernel in enumerate(kernels):
                truth, noisy = realistic(sharp, kernel, sigma, 1000 * i + j)
                for name, restore in table.items():
                    start = time.perf_counter()
                    estimate = restore(noisy, kernel)
                    seconds = time.perf_counter() - start
                    entry = scores.setdefault((sigma, name), ([], [], []))
                    entry[0].append(psnr(truth, estimate))
                    entry[1].append(structural_similarity(truth, estimate, data_range=1.0))
                    entry[2].append(seconds)
            log(f"sigma {sigma}: {path.name} done")
    return summarise(scores, sigmas)


def summarise(scores, sigmas):
    rows = []
    for sigma in sigmas:
        groups = {}
        for (s, name), (p, q, t) in scores.items():
            if s != sigma:
                continue
            base, _, param = name.partition("@")
            groups.setdefault(base, []).append((np.mean(p), np.mean(q), np.mean(t), param))
        for base, members in groups.items():
            best = max(members)
            label = base if len(members) == 1 else f"{base} (best constant {best[3]})"
            rows.append(
                dict(sigma=sigma, method=label, psnr=best[0], ssim=best[1], seconds=best[2])
            )
    return rows


def markdown(rows):
    sigmas = sorted({r["sigma"] for r in rows})
    names = list(dict.fromkeys(r["method"].split(" (best constant")[0] for r in rows))
    lines = [
        "| method | " + " | ".join(f"σ={s} PSNR / SSIM" for s in sigmas) + " | s/image |",
        "| --- |" + " ---: |" * (len(sigmas) + 1),
    ]
    for name in names:
        cells, seconds = [], []
        for s in sigmas:
            row = next(
                r
                for r in rows
                if r["sigma"] == s and r["method"].split(" (best constant")[0] == name
            )
            cells.append(f"{row['psnr']:.2f} / {row['ssim']:.3f}")
            seconds.append(row["seconds"])
        label = name + (
            " (best constant in hindsight)"
            if "wiener" in name
            and "@" not in name
            and any("(best constant" in r["method"] and r["method"].startswith(name) for r in rows)
            else ""
        )
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {np.mean(seconds):.3f} |")
    return "\n".join(lines)


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sigmas = sorted({r["sigma"] for r in rows})
    names = list(dict.fromkeys(r["method"].split(" (best constant")[0] for r in rows))
    fig, ax = plt.subplots(figsize=(11, 4.5))
    width = 0.8 / len(names)
    for k, name in enumerate(names):
        values = [
            next(
                r["psnr"]
                for r in rows
                if r["sigma"] == s and r["method"].split(" (best constant")[0] == name
            )
            for s in sigmas
        ]
        ax.bar(np.arange(len(sigmas)) + k * width, values, width, label=name)
    ax.set_xticks(
        np.arange(len(sigmas)) + width * (len(names) - 1) / 2, [f"noise σ = {s}" for s in sigmas]
    )
    ax.set_ylabel("mean PSNR (dB)")
    ax.set_ylim(bottom=10)
    ax.set_title("Set12 x Levin kernels, realistic borders")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _no_sync():
    pass


def speed(log=print):
    """Seconds per 1080p grey frame, total and per iteration, per backend."""
    from gpudeconv.methods.richardson_lucy import RichardsonLucy
    from gpudeconv.methods.sparse import SparseDeconvolution, _schedule

    rng = np.random.default_rng(0)
    frame = rng.random((1080, 1920)).astype(np.float32)
    kernel = gpudeconv.psf.motion(31, 60)
    out = []
    for backend in gpudeconv.available_backends():
        sync = _no_sync
        data = frame
        if backend == "cupy":
            import cupy

            sync = cupy.cuda.Device().synchronize
            data = cupy.asarray(frame)
        cases = {
            "wiener": (gpudeconv.Wiener(kernel, backend=backend), 1),
            "wiener snr=auto": (gpudeconv.Wiener(kernel, snr="auto", backend=backend), 1),
            "richardson_lucy (30)": (RichardsonLucy(kernel, iterations=30, backend=backend), 30),
            "sparse": (SparseDeconvolution(kernel, backend=backend), len(_schedule())),
        }
        for name, (restore, iterations) in cases.items():
            restore(data)
            sync()
            best = np.inf
            for _ in range(3):
                start = time.perf_counter()
                restore(data)
                sync()
                best = min(best, time.perf_counter() - start)
            out.append(
                dict(
                    backend=backend,
                    method=name,
                    seconds=best,
                    per_iteration=best / iterations,
                    iterations=iterations,
                )
            )
            log(
                f"{backend} {name}: {best * 1e3:.1f} ms per 1080p frame "
                f"({best / iterations * 1e3:.2f} ms x {iterations} iterations)"
            )
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--sigmas", type=float, nargs="+", default=[0.005, 0.01, 0.02])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--speed", action="store_true")
    parser.add_argument("--photos", action="store_true", help="the colour 8-bit low-noise suite")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.photos:
        return photos(args.out, args.images)
    rows = run_quality(args.images, args.sigmas)
    report = {"images": args.images, "sigmas": args.sigmas, "rows": rows}
    if args.speed:
        report["speed_1080p"] = speed()
    (args.out / "quality.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(rows)
    (args.out / "quality.md").write_text(table + "\n")
    plot(rows, args.out / "quality.png")
    print(table)


def photos(out, images=None):
    import photo_suite

    scores, seconds, _ = photo_suite.run(data_dirs(), images=images)
    rows = photo_suite.summarise(scores, seconds)
    speed = photo_suite.auto_speed()
    report = {"rows": rows, "auto_speed": speed}
    (out / "quality_photos.json").write_text(json.dumps(report, indent=2) + "\n")
    table = photo_suite.markdown(rows)
    (out / "quality_photos.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
