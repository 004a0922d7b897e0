"""``gpudeconv demo``: blur the built-in photograph with the Stack Overflow answer's
kernel, restore it, and write what happened to a folder."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from .. import psf as psfs
from ..engine.dispatch import resolve_backend
from ..media.images import write_image
from ..methods.blur import blur
from ..methods.wiener import Wiener
from . import options


def builtin_image() -> np.ndarray:
    """The built-in colour photograph, (384, 384, 3) uint8 in OpenCV's BGR order.

    Astronaut Eileen Collins (NASA, public domain), as shipped by scikit-image
    (``skimage.data.astronaut``), downscaled.
    """
    data = resources.files("gpudeconv").joinpath("data", "astronaut.png").read_bytes()
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def psnr(reference: np.ndarray, test: np.ndarray) -> float:
    diff = reference.astype(np.float64) - test.astype(np.float64)
    return float(10 * np.log10(255.0**2 / max(np.mean(diff**2), 1e-12)))


def run_demo(
    output_dir="gpudeconv-demo",
    *,
    length: int = 31,
    angle: float = 60,
    snr: float = 100.0,
    backend: str = "auto",
    log=print,
) -> dict:
    """Blur, restore and report; returns the figures it printed."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    sharp = builtin_image()
    kernel = psfs.motion(length, angle)
    # What a camera sees: the scene beyond the frame is blurred in too.
    blurred = blur(sharp, kernel, channel_axis=-1, backend=backend)
    restore = Wiener(kernel, snr=snr, channel_axis=-1, backend=backend)
    restore(blurred)  # plan and warm up, so the timing below is one frame's work
    start = time.perf_counter()
    restored = restore(blurred)
    seconds = time.perf_counter() - start
    figures = {
        "backend": resolve_backend(backend, sharp).name,
        "seconds": seconds,
        "psnr_blurred": psnr(sharp, blurred),
        "psnr_restored": psnr(sharp, restored),
        "output_dir": str(out),
    }
    write_image(out / "original.png", sharp)
    write_image(out / "blurred.png", blurred)
    write_image(out / "restored.png", restored)
    write_image(out / "side_by_side.png", np.hstack([sharp, blurred, restored]))
    log(
        f"gpudeconv demo: motion blur {length} px at {angle:g} deg, snr {snr:g}, "
        f"{sharp.shape[1]}x{sharp.shape[0]} colour"
    )
    log(f"backend: {figures['backend']}; restore time: {seconds * 1e3:.1f} ms")
    log(
        f"PSNR: blurred {figures['psnr_blurred']:.2f} dB -> restored "
        f"{figures['psnr_restored']:.2f} dB"
    )
    log(f"wrote original/blurred/restored/side_by_side.png to {out}/")
    return figures


def register(sub, parents) -> None:
    """Add the ``demo`` subcommand; ``parents`` are the restore options (for the
    commands that restore) and ``--debug``."""
    demo = sub.add_parser(
        "demo",
        parents=parents[-1:],
        help="blur the built-in photo with the Stack Overflow answer's 31-px motion kernel "
        "and restore it",
        description="Blur the built-in photograph with a motion kernel (31 px at 60 degrees), "
        "restore it, and write original/blurred/restored/side_by_side PNGs to a folder; "
        "prints the backend, the restore time and the PSNR before and after.",
    )
    demo.add_argument(
        "-o", "--output", default="gpudeconv-demo", help="folder (default: %(default)s)"
    )
    demo.add_argument("--length", type=int, default=31, help="motion length in px (default: 31)")
    demo.add_argument(
        "--angle", type=float, default=60.0, help="motion angle in degrees (default: 60)"
    )
    demo.add_argument(
        "--snr", type=float, default=100.0, help="signal-to-noise ratio (default: 100)"
    )
    options.add_backend(demo)
    demo.set_defaults(run=run)


def run(args) -> int:
    run_demo(args.output, length=args.length, angle=args.angle, snr=args.snr, backend=args.backend)
    return 0
