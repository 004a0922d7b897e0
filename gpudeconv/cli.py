"""The ``gpudeconv`` command: one console script with subcommands."""

from __future__ import annotations

import argparse
import sys
import traceback

from . import __version__


class UsageError(Exception):
    """A mistake in how the command was called: exit status 2."""


def _add_backend(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        default="auto",
        choices=("auto", "numpy", "cupy"),
        help="compute on the GPU (cupy), the CPU (numpy), or the GPU when one is usable "
        "(auto, the default; $GPUDECONV_BACKEND overrides it)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gpudeconv",
        description="Remove known blur from images and video (Wiener deconvolution) "
        "on the CPU or an NVIDIA GPU.",
    )
    parser.add_argument("--version", action="version", version=f"gpudeconv {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser(
        "demo",
        help="blur the built-in photo with the seed thread's 31-px motion kernel and restore it",
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
    _add_backend(demo)
    demo.set_defaults(run=_run_demo)

    verify = sub.add_parser(
        "verify",
        help="check that the GPU (CuPy) gives the CPU's (NumPy's) answer",
        description="Run identical inputs through NumPy and CuPy (uint8, uint16, float32, "
        "float64; grey and colour; several sizes and PSFs) and print the largest difference "
        "per case. Tolerances: integers within 1 level, float32 within 1e-4 and float64 "
        "within 1e-10 of the CPU result's value range. Exit status 0 only when all hold.",
    )
    verify.add_argument(
        "--backend",
        default="auto",
        choices=("auto", "cupy"),
        help="cupy: fail (exit 1) when no GPU is usable; auto (default): say so and exit 0",
    )
    verify.add_argument(
        "--sizes",
        nargs="+",
        type=_size,
        metavar="ROWSxCOLS",
        help="frame sizes (default: 64x64 257x311 1080x1920)",
    )
    verify.set_defaults(run=_run_verify)

    bench = sub.add_parser(
        "bench",
        help="frames per second on each backend, with the seed thread's code as baseline",
        description="Restore RGB uint8 frames (motion 31 px at 60 degrees, snr 100) on each "
        "available backend, host to host and (GPU) device-resident, at several sizes and "
        "batch sizes; the seed thread's code (CPU) and its CuPy port (GPU) are measured in "
        "the same run.",
    )
    bench.add_argument(
        "--sizes",
        nargs="+",
        default=["512", "1080p", "4k"],
        choices=["512", "1080p", "4k"],
        help="(default: all)",
    )
    bench.add_argument(
        "--batch-sizes",
        nargs="+",
        type=_positive_int,
        default=[1, 8, 32],
        metavar="N",
        help="(default: 1 8 32)",
    )
    bench.add_argument(
        "--backends",
        nargs="+",
        choices=["numpy", "cupy"],
        help="(default: every available backend)",
    )
    bench.add_argument("--repeat", type=_positive_int, default=3, help="best of N (default: 3)")
    bench.add_argument(
        "--quick", action="store_true", help="512 and 1080p, batches 1 and 8, best of 2"
    )
    bench.add_argument("--no-baselines", action="store_true", help="skip the seed baselines")
    bench.add_argument("--json", metavar="FILE", help="write the measurements as JSON")
    bench.add_argument("--plot", metavar="FILE", help="draw frames/s as a PNG (matplotlib)")
    bench.set_defaults(run=_run_bench)
    return parser


def _size(text: str) -> tuple[int, int]:
    try:
        rows, cols = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected ROWSxCOLS such as 480x640, got {text!r}"
        ) from None
    if rows < 8 or cols < 8:
        raise argparse.ArgumentTypeError(f"sizes must be at least 8x8, got {text!r}")
    return rows, cols


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _run_verify(args) -> int:
    from .verify import DEFAULT_SIZES, run_verify

    return run_verify(args.sizes or DEFAULT_SIZES, backend=args.backend)


def _run_bench(args) -> int:
    from ._backend import available_backends
    from .bench import run_bench, write_json, write_plot

    backends = args.backends or available_backends()
    if "cupy" in backends and "cupy" not in available_backends():
        raise RuntimeError("--backends cupy was asked for but no GPU is usable here")
    sizes, batches, repeat = args.sizes, args.batch_sizes, args.repeat
    if args.quick:
        sizes, batches, repeat = ["512", "1080p"], [1, 8], 2
    report = run_bench(sizes, batches, backends, repeat=repeat, baselines=not args.no_baselines)
    if args.json:
        write_json(report, args.json)
        print(f"wrote {args.json}")
    if args.plot:
        write_plot(report, args.plot)
        print(f"wrote {args.plot}")
    return 0


def _run_demo(args) -> int:
    from .demo import run_demo

    run_demo(args.output, length=args.length, angle=args.angle, snr=args.snr, backend=args.backend)
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("gpudeconv: interrupted", file=sys.stderr)
        return 130
    except UsageError as exc:
        if args.debug:
            traceback.print_exc()
        parser.exit(2, f"gpudeconv {args.command}: error: {exc}\n")
    except (ValueError, TypeError, RuntimeError, OSError) as exc:
        if args.debug:
            traceback.print_exc()
        print(f"gpudeconv {args.command}: error: {exc}", file=sys.stderr)
        return 1
