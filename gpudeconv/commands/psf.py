"""``gpudeconv psf``: write a PSF as the exact array or as a viewable picture,
either of which ``--psf FILE`` reads back as the same kernel; or estimate the
PSF of a photo (``--estimate``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..estimate.psf import estimate_psf
from ..media.folders import split_channels
from ..media.images import partial_file, read_image, write_psf_picture
from ..psf import SPEC_HELP
from . import options


def register(sub, parents) -> None:
    """Add the ``psf`` subcommand; ``parents`` are the restore options (for the
    commands that restore) and ``--debug``."""
    psf = sub.add_parser(
        "psf",
        parents=parents[-1:],
        help="write a PSF as a .npy array or a viewable picture (both read back by --psf), "
        "or estimate one from a photo (--estimate)",
        description="Write the PSF given by SPEC. FILE.npy holds the exact float64 array "
        "(sum 1). FILE.png or FILE.tif is a 16-bit grey picture scaled to the peak and "
        "enlarged with nearest-neighbour sampling so that each PSF pixel is visible; the "
        "enlargement is recorded in the file, so --psf FILE gives back the same kernel "
        "(to 1/65535 of its peak). With --estimate PHOTO instead of SPEC: estimate the blur "
        "of PHOTO and print it as a SPEC (tab) its confidence (tab) the reason; -o then "
        "writes the estimated kernel.",
    )
    psf.add_argument("spec", nargs="?", type=options.psf, metavar="SPEC", help=SPEC_HELP)
    psf.add_argument(
        "--estimate",
        metavar="PHOTO",
        help="estimate the blur of PHOTO instead of giving SPEC: prints the spec, the "
        "confidence and the reason; with -o FILE.npy writes the kernel that --psf reads back",
    )
    psf.add_argument("-o", "--output", metavar="FILE", help="FILE.npy, FILE.png or FILE.tif")
    psf.add_argument(
        "--scale",
        type=options.positive_int,
        help="pixels per PSF pixel in a picture (default: fit 256)",
    )
    psf.add_argument("--overwrite", action="store_true", help="replace an existing FILE")
    psf.set_defaults(run=run)


def run(args) -> int:
    if args.estimate is not None:
        return run_estimate(args)
    if args.spec is None or args.output is None or options.is_auto(args.spec):
        raise ValueError("give SPEC and -o FILE, or --estimate PHOTO")
    write_kernel(args, args.spec)
    return 0


def write_kernel(args, kernel) -> None:
    """Write ``kernel`` to ``args.output`` as .npy or as a picture that records its scale."""
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


def run_estimate(args) -> int:
    """``psf --estimate PHOTO [-o FILE]``: print the estimate, write its kernel."""
    if args.spec is not None:
        raise ValueError("give either SPEC or --estimate PHOTO, not both")
    image, _ = split_channels(read_image(args.estimate))
    axis = -1 if image.ndim == 3 else None
    estimate = estimate_psf(image, channel_axis=axis)
    print(f"{estimate.spec}\tconfidence {estimate.confidence:.2f}\t{estimate.reason}")
    if estimate.confidence < 0.5:
        options.error("psf", "low confidence: the spec above is a guess")
    if args.output is not None:
        write_kernel(args, np.array(estimate.psf))
    return 0
