"""``gpudeconv psf``: write a PSF as the exact array or as a viewable picture,
either of which ``--psf FILE`` reads back as the same kernel."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..media.images import partial_file, write_psf_picture
from ..psf import SPEC_HELP
from . import options


def register(sub, parents) -> None:
    """Add the ``psf`` subcommand; ``parents`` are the restore options (for the
    commands that restore) and ``--debug``."""
    psf = sub.add_parser(
        "psf",
        parents=parents[-1:],
        help="write a PSF as a .npy array or a viewable picture (both read back by --psf)",
        description="Write the PSF given by SPEC. FILE.npy holds the exact float64 array "
        "(sum 1). FILE.png or FILE.tif is a 16-bit grey picture scaled to the peak and "
        "enlarged with nearest-neighbour sampling so that each PSF pixel is visible; the "
        "enlargement is recorded in the file, so --psf FILE gives back the same kernel "
        "(to 1/65535 of its peak).",
    )
    psf.add_argument("spec", type=options.psf, metavar="SPEC", help=SPEC_HELP)
    psf.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="FILE.npy, FILE.png or FILE.tif"
    )
    psf.add_argument(
        "--scale",
        type=options.positive_int,
        help="pixels per PSF pixel in a picture (default: fit 256)",
    )
    psf.add_argument("--overwrite", action="store_true", help="replace an existing FILE")
    psf.set_defaults(run=run)


def run(args) -> int:
    kernel = args.spec
    output = Path(args.output)
    if output.exists() and not args.overwrite:
        raise FileExistsError(f"{output} exists; pass --overwrite to replace it")
    if output.suffix.lower() == ".npy":
        if args.scale:
            raise ValueError("--scale applies to pictures (.png, .tif), not to .npy")
        with partial_file(output) as tmp:
            np.save(tmp, kernel)
        how = "as a float64 array"
    else:
        scale = args.scale or max(1, -(-256 // max(kernel.shape)))
        write_psf_picture(output, kernel, scale)
        how = f"as a picture at {scale}x"
    print(
        f"gpudeconv psf: {kernel.shape[0]}x{kernel.shape[1]} kernel, sum {kernel.sum():.6f}, "
        f"written {how} to {output}; --psf {output} reads it back"
    )
    return 0
