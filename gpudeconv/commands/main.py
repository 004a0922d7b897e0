"""The ``gpudeconv`` command: the parser, and error handling for every subcommand."""

from __future__ import annotations

import argparse
import sys
import traceback

from .. import __version__
from . import bench, deblur, demo, doctor, options, psf, tune, verify, video


class Parser(argparse.ArgumentParser):
    """A parser whose usage errors are one line on stderr (exit 2), without the
    usage block: ``--help`` shows that."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="gpudeconv",
        description="Remove known blur from images and video on the CPU or an NVIDIA GPU. "
        "Methods (--method): wiener (Wiener deconvolution, the default and fastest; --snr "
        "fixed or auto), richardson_lucy (Richardson-Lucy, non-negative; --iterations) and "
        "sparse (a total-variation prior, best on noisy photos, slowest).",
    )
    parser.add_argument("--version", action="version", version=f"gpudeconv {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    debug = Parser(add_help=False)
    debug.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors"
    )
    restore = options.restore_options()

    for command in (deblur, video):
        command.register(sub, [restore, debug])
    for command in (psf, demo, verify, bench, doctor, tune):
        command.register(sub, [debug])
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = options.usage_problem(args) if hasattr(args, "method") else None
    if problem:
        print(f"gpudeconv {args.command}: error: {problem}", file=sys.stderr)
        return 2
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("gpudeconv: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, RuntimeError, OSError, MemoryError) as exc:
        if args.debug:
            traceback.print_exc()
        print(f"gpudeconv {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # an unexpected failure: still one line unless --debug
        if args.debug:
            traceback.print_exc()
        print(
            f"gpudeconv {args.command}: error: {type(exc).__name__}: {exc} "
            "(run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1
