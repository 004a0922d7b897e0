"""``gpudeconv psf``: write a PSF as a viewable image."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..media.images import write_image
from ..psf import SPEC_HELP
from . import options


def register(sub, parents) -> None:
    """Add the ``psf`` subcommand; ``parents`` are the restore options (for the
    commands that restore) and ``--debug``."""
    psf = sub.add_parser(
        "psf",
        parents=parents[-1:],
        help="write a PSF as a viewable image, or estimate one from a photo (--estimate)",
        description="Write the PSF given by SPEC as an image, scaled to its peak and "
        "enlarged with nearest-neighbour sampling so that each PSF pixel is visible. "
        "With --estimate PHOTO instead: estimate the blur of PHOTO and print it as a SPEC "
        "(tab) its confidence (tab) the reason; -o writes the kernel (.npy) or its picture.",
    )
    psf.add_argument("spec", nargs="?", type=options.psf, metavar="SPEC", help=SPEC_HELP)
    psf.add_argument(
        "--estimate",
        metavar="PHOTO",
        help="estimate the blur of PHOTO instead of giving SPEC: prints the spec, the "
        "confidence and the reason; with -o FILE.npy writes the kernel that --psf reads back",
    )
    psf.add_argument(
        "-o", "--output", metavar="FILE", help="image file (.png ...), or .npy with --estimate"
    )
    psf.add_argument(
        "--scale", type=options.positive_int, help="pixels per PSF pixel (default: fit 256)"
    )
    psf.add_argument("--overwrite", action="store_true", help="replace an existing FILE")
    psf.set_defaults(run=run)


def run(args) -> int:
    if args.estimate is not None:
        return run_estimate(args)
    if args.spec is None or args.output is None or options.is_auto(args.spec):
        raise ValueError("give SPEC and -o FILE, or --estimate PHOTO")
    kernel = args.spec
    output = Path(args.output)
    if output.exists() and not args.overwrite:
        raise FileExistsError(f"{output} exists; pass --overwrite to replace it")
    scale = args.scale or max(1, -(-256 // max(kernel.shape)))
    picture = np.rint(np.clip(kernel / kernel.max(), 0, 1) * 255).astype(np.uint8)
    picture = np.kron(picture, np.ones((scale, scale), np.uint8))
    write_image(output, picture)
    print(
        f"gpudeconv psf: {kernel.shape[0]}x{kernel.shape[1]} kernel, sum {kernel.sum():.6f}, "
        f"written at {scale}x to {output}"
    )
    return 0


def run_estimate(args) -> int:
    """``psf --estimate PHOTO [-o FILE]``: print the estimate, write its kernel."""
    from ..estimate.psf import estimate_psf
    from ..media.folders import split_channels
    from ..media.images import read_image

    if args.spec is not None:
        raise ValueError("give either SPEC or --estimate PHOTO, not both")
    image, _ = split_channels(read_image(args.estimate))
    axis = -1 if image.ndim == 3 else None
    estimate = estimate_psf(image, channel_axis=axis)
    print(f"{estimate.spec}\tconfidence {estimate.confidence:.2f}\t{estimate.reason}")
    if estimate.confidence < 0.5:
        options.error("psf", "low confidence: the spec above is a guess")
    if args.output is None:
        return 0
    output = Path(args.output)
    if output.suffix.lower() != ".npy":
        args.estimate, args.spec = None, np.array(estimate.psf)
        return run(args)
    if output.exists() and not args.overwrite:
        raise FileExistsError(f"{output} exists; pass --overwrite to replace it")
    np.save(output, np.array(estimate.psf))
    rows, cols = estimate.psf.shape
    print(f"gpudeconv psf: {rows}x{cols} kernel written to {output}")
    return 0
