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
        help="write a PSF as a viewable image",
        description="Write the PSF given by SPEC as an image, scaled to its peak and "
        "enlarged with nearest-neighbour sampling so that each PSF pixel is visible.",
    )
    psf.add_argument("spec", type=options.psf, metavar="SPEC", help=SPEC_HELP)
    psf.add_argument("-o", "--output", required=True, metavar="FILE", help="image file (.png ...)")
    psf.add_argument(
        "--scale", type=options.positive_int, help="pixels per PSF pixel (default: fit 256)"
    )
    psf.add_argument("--overwrite", action="store_true", help="replace an existing FILE")
    psf.set_defaults(run=run)


def run(args) -> int:
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
