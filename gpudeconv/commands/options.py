"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import sys

from ..psf import SPEC_HELP, from_spec


def add_backend(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        default="auto",
        choices=("auto", "numpy", "cupy"),
        help="compute on the GPU (cupy), the CPU (numpy), or the GPU when one is usable "
        "(auto, the default; $GPUDECONV_BACKEND overrides it)",
    )


def psf(text: str):
    try:
        return from_spec(text)
    except (ValueError, TypeError, OSError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def snr(text: str):
    if text == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"snr must be a positive number, got {text!r}") from None
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"snr must be a positive number, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def restore_options() -> argparse.ArgumentParser:
    """Options shared by the commands that restore."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("restoration")
    group.add_argument(
        "--psf", required=True, type=psf, metavar="SPEC", help=f"the blur: {SPEC_HELP}"
    )
    group.add_argument(
        "--method",
        choices=("wiener", "richardson_lucy", "sparse"),
        default="wiener",
        help="wiener (default; fastest), richardson_lucy (non-negative; --iterations) or "
        "sparse (total variation, automatic weight; best on noisy photos, slowest)",
    )
    group.add_argument(
        "--snr",
        type=snr,
        default=100.0,
        help="Wiener's signal-to-noise ratio, eps = 1/snr, or 'auto' to choose it per frame "
        "from the estimated noise (default: 100)",
    )
    group.add_argument(
        "--iterations",
        type=positive_int,
        default=30,
        metavar="N",
        help="Richardson-Lucy iterations at most; each frame stops earlier once its residual "
        "reaches the estimated noise (default: 30)",
    )
    group.add_argument(
        "--reg",
        choices=("laplacian",),
        help="regulariser: laplacian (scikit-image's wiener); default: none",
    )
    group.add_argument(
        "--border",
        choices=("reflect", "edgetaper", "circular"),
        default="reflect",
        help="border handling (default: reflect)",
    )
    group.add_argument(
        "--pad",
        type=non_negative_int,
        metavar="N",
        help="mirror at least N px per side (reflect; default: the PSF's size)",
    )
    add_backend(group)
    group.add_argument(
        "--batch-size",
        type=positive_int,
        default=16,
        metavar="N",
        help="frames restored together (default: 16)",
    )
    group.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    group.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="send the work to a dask cluster (e.g. tcp://10.0.0.5:8786): images of a folder, "
        "or batches of video frames, are restored on its workers, which must see the same "
        "files (pip install 'gpudeconv[dask]')",
    )
    group.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    return common


def size(text: str) -> tuple[int, int]:
    try:
        rows, cols = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected ROWSxCOLS such as 480x640, got {text!r}"
        ) from None
    if rows < 8 or cols < 8:
        raise argparse.ArgumentTypeError(f"sizes must be at least 8x8, got {text!r}")
    return rows, cols


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def method_options(args, channel_axis) -> dict:
    """The chosen method's options from the command line."""
    options = dict(
        border=args.border, pad=args.pad, channel_axis=channel_axis, backend=args.backend
    )
    if args.method == "wiener":
        options.update(snr=args.snr, reg=args.reg)
    elif args.reg:
        raise ValueError(f"--reg applies to --method wiener only, not {args.method}")
    if args.method == "richardson_lucy":
        options["iterations"] = args.iterations
    return options


def restorer(args, channel_axis):
    from ..deconvolve import make_deconvolver

    return make_deconvolver(args.psf, args.method, **method_options(args, channel_axis))


def error(command: str, message: str) -> None:
    print(f"gpudeconv {command}: {message}", file=sys.stderr)


def client(args):
    """A dask.distributed client for ``--scheduler``, or None."""
    if not args.scheduler:
        return None
    try:
        from distributed import Client
    except ImportError:
        raise RuntimeError("--scheduler needs dask: pip install 'gpudeconv[dask]'") from None
    try:
        return Client(args.scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise OSError(f"cannot reach the dask scheduler at {args.scheduler}: {exc}") from None


def remote_task(args, channel_axis):
    from ..dask import _RestoreBlock

    restorer(args, channel_axis)  # validates the options here, not on a worker
    return _RestoreBlock(args.psf, args.method, method_options(args, channel_axis))
