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
    return parser


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
