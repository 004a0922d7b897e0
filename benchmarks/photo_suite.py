"""The colour, 8-bit, low-noise suite of ``benchmarks/quality.py --photos``.

Each case: a crop of a colour photograph of ``../shared/data/colour`` (the
scene), blurred as a whole and only its centre kept (``fftconvolve`` with
``mode="valid"``: a camera sees the middle of a larger scene), white noise of
``noise`` grey levels added, then rounded to 8 bits (noise 0: quantisation
only). Blurs: linear motion of 21, 31 and 41 px at seeded random angles, four
of Levin et al.'s camera-shake kernels and two Gaussians.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import scipy.signal

ROOT = Path(__file__).resolve().parents[1]
SCENE = 400  # side of the scene crop: blurred frames are 360-380 px
NOISES = (0.0, 0.5, 1.0, 2.0)  # grey levels
#: The sparse method (about 20x Wiener's time) runs on these blurs only.
SPARSE_BLURS = ("motion 41", "levin k1", "gaussian 3.0")


def photos(shared):
    """name -> float64 (rows, cols, 3) scene in [0, 1], a centred crop."""
    out = {}
    for path in sorted((shared / "colour").iterdir()):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            continue
        r0, c0 = (image.shape[0] - SCENE) // 2, (image.shape[1] - SCENE) // 2
        out[path.stem] = image[r0 : r0 + SCENE, c0 : c0 + SCENE] / 255.0
    return out


def blurs(shared, seed=11):
    import gpudeconv

    rng = np.random.default_rng(seed)
    out = {}
    for length in (21, 31, 41):
        angle = float(rng.uniform(0, 180))
        out[f"motion {length}@{angle:.0f}"] = gpudeconv.psf.motion(length, angle)
    with np.load(shared / "levin09_kernels.npz") as f:
        for name in ("k1", "k3", "k5", "k8"):
            out[f"levin {name}"] = f[name]
    for sigma in (1.5, 3.0):
        out[f"gaussian {sigma}"] = gpudeconv.psf.gaussian(sigma)
    return out


def blur_scene(scene, kernel, noise, seed):
    """(truth float [0,1], observed uint8), the truth being the kept centre."""
    valid = np.stack(
        [scipy.signal.fftconvolve(scene[..., c], kernel, mode="valid") for c in range(3)], -1
    )
    r0, c0 = (kernel.shape[0] - 1) // 2, (kernel.shape[1] - 1) // 2
    truth = scene[r0 : r0 + valid.shape[0], c0 : c0 + valid.shape[1]]
    observed = valid * 255.0
    if noise:
        observed = observed + noise * np.random.default_rng(seed).standard_normal(valid.shape)
    return truth, np.clip(np.rint(observed), 0, 255).astype(np.uint8)


def cases(shared, noises=NOISES, images=None):
    """Yield (noise, image name, blur name, truth, observed uint8, kernel)."""
    scenes = photos(shared)
    names = list(scenes)[:images]
    kernels = blurs(shared)
    for noise in noises:
        for i, name in enumerate(names):
            for j, (blur_name, kernel) in enumerate(kernels.items()):
                truth, observed = blur_scene(scenes[name], kernel, noise, 1000 * i + j)
                yield noise, name, blur_name, truth, observed, kernel


def psnr(truth, restored):
    restored = np.asarray(restored, dtype=np.float64)
    if np.asarray(restored).dtype.kind in "ui" or restored.max() > 2:
        restored = restored / 255.0
    return float(10 * np.log10(1.0 / np.mean((truth - restored) ** 2)))


WIENER_SNRS = (17.8, 31.6, 56.2, 100, 178, 316, 562, 1000)


def restorers(sparse=True, rl=True):
    """name -> restore(observed uint8, kernel); 'wiener@snr' names form the
    hindsight group."""
    import gpudeconv

    def call(function, **options):
        return lambda y, k: function(y, k, channel_axis=-1, backend="numpy", **options)

    table = {f"wiener@{s}": call(gpudeconv.wiener, snr=s) for s in WIENER_SNRS}
    table["wiener snr=auto"] = call(gpudeconv.wiener, snr="auto")
    if rl:
        table["richardson_lucy (default)"] = call(gpudeconv.richardson_lucy)
    if sparse:
        table["sparse (auto)"] = call(gpudeconv.sparse_deconvolve)
    return table


def run(shared, noises=NOISES, images=None, sparse=True, rl=True, log=print):
    """{noise: {name: [psnr per case]}}, {name: [seconds]}, and the case names."""
    import time

    table = restorers(sparse, rl)
    scores, seconds, names = {}, {}, []
    for noise, image, blur, truth, observed, kernel in cases(shared, noises, images):
        per = scores.setdefault(noise, {})
        per.setdefault("blurred input", []).append(psnr(truth, observed))
        for name, restore in table.items():
            if name == "sparse (auto)" and not blur.startswith(SPARSE_BLURS):
                per.setdefault(name, []).append(np.nan)  # too slow for every case
                continue
            start = time.perf_counter()
            restored = restore(observed, kernel)
            seconds.setdefault(name, []).append(time.perf_counter() - start)
            per.setdefault(name, []).append(psnr(truth, restored))
        names.append((noise, image, blur))
        log(f"noise {noise}: {image}, {blur}")
    return scores, seconds, names


def summarise(scores, seconds):
    """Rows per noise level: each method's mean PSNR, its mean and worst
    difference to the best constant snr in hindsight."""
    rows = []
    for noise, per in scores.items():
        # With a method run on some cases only, its PSNR and differences are
        # over those cases (the best constant being chosen on all).
        group = {n: np.array(v) for n, v in per.items() if n.startswith("wiener@")}
        best_name = max(group, key=lambda n: group[n].mean())
        best = group[best_name]
        labelled = [(f"wiener, best constant snr {best_name[7:]}", best_name)]
        if "wiener@100" in per:
            labelled.append(("wiener snr=100", "wiener@100"))
        labelled += [(n, n) for n in per if not n.startswith("wiener@")]
        for label, name in labelled:
            values = np.array(per[name])
            rows.append(
                dict(
                    noise=noise,
                    method=label,
                    psnr=float(np.nanmean(values)),
                    vs_best=float(np.nanmean(values - best)),
                    worst_vs_best=float(np.nanmin(values - best)),
                    below_blurred=int((values < np.array(per["blurred input"])).sum()),
                    seconds=float(np.mean(seconds.get(name, [0.0]))),
                )
            )
    return rows


def markdown(rows):
    noises = sorted({r["noise"] for r in rows})
    lines = [
        "| method | "
        + " | ".join(f"{n:g} grey levels: PSNR (vs best, worst)" for n in noises)
        + " | s/image | cases below the blurred input |",
        "| --- |" + " ---: |" * (len(noises) + 2),
    ]
    methods = list(dict.fromkeys(r["method"].split(", best constant")[0] for r in rows))
    for method in methods:
        cells, seconds, below = [], 0.0, 0
        for n in noises:
            row = next(
                r
                for r in rows
                if r["noise"] == n and r["method"].split(", best constant")[0] == method
            )
            extra = ""
            if "best constant" in row["method"]:
                extra = f" (snr {row['method'].rsplit(' ', 1)[1]})"
            elif row["method"] != "blurred input":
                extra = f" ({row['vs_best']:+.2f}, {row['worst_vs_best']:+.2f})"
            cells.append(f"{row['psnr']:.2f}{extra}")
            seconds = max(seconds, row["seconds"])
            below += row["below_blurred"]
        name = "wiener, best constant snr in hindsight" if method == "wiener" else method
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {seconds:.3f} | {below} |")
    return "\n".join(lines)


def auto_speed(log=print, repeats=5):
    """Seconds of Wiener with ``snr="auto"`` over fixed-snr Wiener, 1080p, CPU."""
    import time

    import gpudeconv

    rng = np.random.default_rng(0)
    kernel = gpudeconv.psf.motion(31, 60)
    frames = {
        "1080p grey float32": (rng.random((1080, 1920)).astype(np.float32), None),
        "1080p RGB uint8": (rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8), -1),
    }
    out = []
    for name, (frame, axis) in frames.items():
        seconds = {}
        for snr in (100.0, "auto"):
            restore = gpudeconv.Wiener(kernel, snr=snr, channel_axis=axis, backend="numpy")
            restore(frame)
            best = np.inf
            for _ in range(repeats):
                start = time.perf_counter()
                restore(frame)
                best = min(best, time.perf_counter() - start)
            seconds[snr] = best
        ratio = seconds["auto"] / seconds[100.0]
        out.append(dict(frame=name, fixed=seconds[100.0], auto=seconds["auto"], ratio=ratio))
        log(
            f"{name}: fixed snr {seconds[100.0] * 1e3:.1f} ms, snr='auto' "
            f"{seconds['auto'] * 1e3:.1f} ms: {ratio:.2f}x"
        )
    return out
