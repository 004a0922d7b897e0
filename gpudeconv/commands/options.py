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


def check_backend(args) -> None:
    """A missing GPU as one clear error naming the command-line option, before
    any work."""
    from ..engine.dispatch import resolve_backend

    try:
        resolve_backend(args.backend)
    except RuntimeError:
        asked = "$GPUDECONV_BACKEND=cupy" if args.backend == "auto" else "--backend cupy"
        raise RuntimeError(
            f"{asked} needs a GPU, but CuPy is not usable here (not installed, "
            "or no CUDA device or driver): install gpudeconv[cuda12] or gpudeconv[cuda13] on a "
            "machine with an NVIDIA GPU, or use --backend numpy"
        ) from None


def psf(text: str):
    if text == "auto":
        return "auto"  # estimated from the input itself (see estimated_restorer)
    try:
        return from_spec(text)
    except (ValueError, TypeError, OSError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def snr(text: str):
    if text == "auto":
        return "auto"
    accepted = "a positive number or the word auto (lower case)"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {accepted}, got {text!r}") from None
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"expected {accepted}, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


#: The defaults of the options that apply to some methods only. The parser's
#: defaults are None, so that an option the user gave can be told from one left
#: out (and refused where it does not apply).
SNR_DEFAULT = 100  # a number, or "auto"
ITERATIONS_DEFAULT = 30
BORDER_DEFAULT = "harmonic"
#: The borders each method takes (the library refuses the others).
METHOD_BORDERS = {
    "wiener": ("harmonic", "reflect", "edgetaper", "circular", "unknown"),
    "richardson_lucy": ("harmonic", "reflect", "circular", "unknown"),
    "sparse": ("harmonic", "reflect", "circular", "unknown"),
}
#: The borders that pad the frame (and so take --pad).
PADDED_BORDERS = ("harmonic", "reflect", "unknown")


def restore_options() -> argparse.ArgumentParser:
    """Options shared by the commands that restore."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("restoration")
    group.add_argument(
        "--psf",
        required=True,
        type=psf,
        metavar="SPEC",
        help=f"the blur: {SPEC_HELP}; or auto: estimate it from the input and print it",
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
        help="Wiener's signal-to-noise ratio, eps = 1/snr, or 'auto' to choose it per frame "
        f"from the estimated noise (default: {SNR_DEFAULT}; --method wiener only)",
    )
    group.add_argument(
        "--iterations",
        type=positive_int,
        metavar="N",
        help="Richardson-Lucy iterations at most; each frame stops earlier once its residual "
        f"reaches the estimated noise (default: {ITERATIONS_DEFAULT}; --method richardson_lucy "
        "only)",
    )
    group.add_argument(
        "--reg",
        choices=("laplacian",),
        help="regulariser: laplacian (scikit-image's wiener); default: none (--method wiener only)",
    )
    group.add_argument(
        "--border",
        choices=("harmonic", "reflect", "edgetaper", "circular", "unknown"),
        help=f"border handling (default: {BORDER_DEFAULT}; edgetaper: --method wiener only)",
    )
    group.add_argument(
        "--pad",
        type=non_negative_int,
        metavar="N",
        help=(
            "pad at least N px per side (harmonic, reflect, unknown; default: twice the "
            "PSF's size for harmonic, its size otherwise)"
        ),
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


def usage_problem(args) -> str | None:
    """What is wrong with the combination of restore options, or None.

    An option given for a method (or border) that does not use it is refused
    rather than silently ignored.
    """
    method, border = args.method, args.border or BORDER_DEFAULT
    only = {"snr": "wiener", "reg": "wiener", "iterations": "richardson_lucy"}
    for name, owner in only.items():
        if getattr(args, name) is not None and method != owner:
            return f"--{name} applies to --method {owner} only, not --method {method}"
    if border not in METHOD_BORDERS[method]:
        borders = ", ".join(METHOD_BORDERS[method])
        return f"--method {method} takes --border {borders}, not --border {border}"
    if args.pad is not None and border not in PADDED_BORDERS:
        return f"--pad applies to --border {', '.join(PADDED_BORDERS)} only, not --border {border}"
    return None


def method_options(args, channel_axis) -> dict:
    """The chosen method's options from the command line."""
    problem = usage_problem(args)
    if problem:
        raise ValueError(problem)
    options = dict(
        border=args.border or BORDER_DEFAULT,
        pad=args.pad,
        channel_axis=channel_axis,
        backend=args.backend,
    )
    if args.method == "wiener":
        options.update(snr=SNR_DEFAULT if args.snr is None else args.snr, reg=args.reg)
    if args.method == "richardson_lucy":
        options["iterations"] = args.iterations or ITERATIONS_DEFAULT
    return options


def restorer(args, channel_axis):
    from ..deconvolve import make_deconvolver

    check_backend(args)
    return make_deconvolver(args.psf, args.method, **method_options(args, channel_axis))


def is_auto(spec) -> bool:
    """Whether ``--psf`` asks for the blur to be estimated."""
    return isinstance(spec, str) and spec == "auto"


def with_psf(args, kernel):
    """A copy of the parsed ``args`` with ``--psf`` set to ``kernel``."""
    return argparse.Namespace(**{**vars(args), "psf": kernel})


def report_estimate(command: str, what, estimate) -> None:
    """Say what ``--psf auto`` found, as the spec a user can reuse."""
    line = (
        f"gpudeconv {command}: {what}: --psf {estimate.spec} "
        f"(confidence {estimate.confidence:.2f}: {estimate.reason})"
    )
    if estimate.confidence < 0.5:
        line += "; LOW CONFIDENCE: check the result, or give --psf yourself"
    print(line, flush=True)


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
