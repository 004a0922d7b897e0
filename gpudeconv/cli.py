"""The ``gpudeconv`` command: one console script with subcommands."""

from __future__ import annotations

import argparse
import sys
import traceback

from . import __version__


def _add_backend(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        default="auto",
        choices=("auto", "numpy", "cupy"),
        help="compute on the GPU (cupy), the CPU (numpy), or the GPU when one is usable "
        "(auto, the default; $GPUDECONV_BACKEND overrides it)",
    )


def _psf(text: str):
    from .psf import from_spec

    try:
        return from_spec(text)
    except (ValueError, TypeError, OSError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _snr(text: str):
    if text == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"snr must be a positive number, got {text!r}") from None
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"snr must be a positive number, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _restore_options() -> argparse.ArgumentParser:
    """Options shared by the commands that restore."""
    from .psf import SPEC_HELP

    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("restoration")
    group.add_argument(
        "--psf", required=True, type=_psf, metavar="SPEC", help=f"the blur: {SPEC_HELP}"
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
        type=_snr,
        default=100.0,
        help="Wiener's signal-to-noise ratio, eps = 1/snr, or 'auto' to choose it per frame "
        "from the estimated noise (default: 100)",
    )
    group.add_argument(
        "--iterations",
        type=_positive_int,
        default=30,
        metavar="N",
        help="Richardson-Lucy iterations (default: 30)",
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
        type=_non_negative_int,
        metavar="N",
        help="mirror at least N px per side (reflect; default: the PSF's size)",
    )
    _add_backend(group)
    group.add_argument(
        "--batch-size",
        type=_positive_int,
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gpudeconv",
        description="Remove known blur from images and video (Wiener deconvolution) "
        "on the CPU or an NVIDIA GPU.",
    )
    parser.add_argument("--version", action="version", version=f"gpudeconv {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors"
    )
    restore = _restore_options()

    deblur = sub.add_parser(
        "deblur",
        parents=[restore, debug],
        help="restore image files: one file, or files, folders and globs into a folder",
        description="Restore image files. One input file and an output file path: writes "
        "that file (never replacing it without --overwrite). Several inputs, folders or "
        "globs: OUTPUT is a folder (created), file names are kept, and outputs that already "
        "exist are skipped so that an interrupted run resumes. Any format OpenCV reads and "
        "writes; grey, colour and colour with alpha (alpha kept untouched); 8 and 16 bit "
        "kept. Equal-sized images are restored in batches. Files that cannot be read are "
        "named on stderr and the rest still restored; the exit status is then 1.",
    )
    deblur.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or globs")
    deblur.add_argument(
        "-o", "--output", required=True, metavar="OUTPUT", help="output file (one input) or folder"
    )
    deblur.set_defaults(run=_run_deblur)

    video = sub.add_parser(
        "video",
        parents=[restore, debug],
        help="restore every frame of a video (audio is not kept)",
        description="Restore every frame of a video into a new video with the same frame "
        "size and rate. Decoding, restoring and encoding overlap; memory stays flat for any "
        "length. The codec follows OUTPUT's extension (.mp4/.mov/.m4v: mp4v, .avi: MJPG, "
        ".mkv: XVID) unless --fourcc is given. OpenCV does not carry audio: the output has "
        "none (mux it back with ffmpeg if needed). A failed run leaves no file at OUTPUT.",
    )
    video.add_argument("input", metavar="INPUT", help="a video file OpenCV can decode")
    video.add_argument("output", metavar="OUTPUT", help="the restored video")
    video.add_argument("--fourcc", metavar="CODE", help="four-character codec, e.g. mp4v, MJPG")
    video.set_defaults(run=_run_video)

    psf = sub.add_parser(
        "psf",
        parents=[debug],
        help="write a PSF as a viewable image",
        description="Write the PSF given by SPEC as an image, scaled to its peak and "
        "enlarged with nearest-neighbour sampling so that each PSF pixel is visible.",
    )
    from .psf import SPEC_HELP

    psf.add_argument("spec", type=_psf, metavar="SPEC", help=SPEC_HELP)
    psf.add_argument("-o", "--output", required=True, metavar="FILE", help="image file (.png ...)")
    psf.add_argument("--scale", type=_positive_int, help="pixels per PSF pixel (default: fit 256)")
    psf.add_argument("--overwrite", action="store_true", help="replace an existing FILE")
    psf.set_defaults(run=_run_psf)

    demo = sub.add_parser(
        "demo",
        parents=[debug],
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
        parents=[debug],
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
        parents=[debug],
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


def _method_options(args, channel_axis) -> dict:
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


def _restorer(args, channel_axis):
    from .deconvolve import make_deconvolver

    return make_deconvolver(args.psf, args.method, **_method_options(args, channel_axis))


def _error(command: str, message: str) -> None:
    print(f"gpudeconv {command}: {message}", file=sys.stderr)


def _run_deblur(args) -> int:
    from pathlib import Path

    from . import files
    from ._backend import resolve_backend

    resolve_backend(args.backend)  # a missing GPU is one clear error, before any work
    _restorer(args, None)  # so are options that do not go together
    report = files.Report()
    output = Path(args.output)
    if files.is_single(args.inputs, args.output):
        source = Path(args.inputs[0])
        if output.exists() and not args.overwrite:
            raise FileExistsError(f"{output} exists; pass --overwrite to replace it")
        output.parent.mkdir(parents=True, exist_ok=True)
        pairs, skip_existing = [(source, output)], False
    else:
        if (
            len(args.inputs) == 1
            and not Path(args.inputs[0]).exists()
            and not any(c in args.inputs[0] for c in "*?[")
        ):
            raise FileNotFoundError(f"no such file or folder: {args.inputs[0]}")
        inputs = files.expand_inputs(args.inputs, report)
        for path, reason in report.failed:
            _error("deblur", f"{path}: {reason}")
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OSError(f"cannot create output folder {output}: {exc.strerror or exc}") from None
        pairs, skip_existing = files.plan_outputs(inputs, output), not args.overwrite
    on_error = lambda path, reason: _error("deblur", f"{path}: {reason}")  # noqa: E731
    client = _client(args)
    if client is None:
        files.restore_files(
            pairs,
            lambda axis: _restorer(args, axis),
            batch_size=args.batch_size,
            skip_existing=skip_existing,
            report=report,
            on_error=on_error,
            progress=not args.quiet,
        )
    else:
        try:
            tasks = {axis: _remote_task(args, axis) for axis in (None, -1)}
            files.restore_files_distributed(
                pairs,
                tasks,
                client,
                skip_existing=skip_existing,
                report=report,
                on_error=on_error,
                progress=not args.quiet,
            )
        finally:
            client.close()
    if not args.quiet:
        print(f"gpudeconv deblur: {report.summary()}", file=sys.stderr)
    return 1 if report.failed else 0


def _client(args):
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


def _remote_task(args, channel_axis):
    from .dask import _RestoreBlock

    _restorer(args, channel_axis)  # validates the options here, not on a worker
    return _RestoreBlock(args.psf, args.method, _method_options(args, channel_axis))


def _run_video(args) -> int:
    from .video import restore_video

    client = _client(args)
    try:
        if client is None:
            restore, queue_batches = _restorer(args, -1), 3
        else:
            restore = _remote_task(args, -1)
            queue_batches = max(3, 2 * sum(client.nthreads().values()))
        report = restore_video(
            args.input,
            args.output,
            restore,
            batch_size=args.batch_size,
            fourcc=args.fourcc,
            overwrite=args.overwrite,
            progress=not args.quiet,
            queue_batches=queue_batches,
            executor=client,
        )
    finally:
        if client is not None:
            client.close()
    if not args.quiet:
        rows, cols = report.size
        where = f" on {args.scheduler}" if client is not None else ""
        line = (
            f"gpudeconv video: wrote {report.frames_written} frames ({cols}x{rows} at "
            f"{report.fps:g} fps) to {args.output} in {report.seconds:.1f} s{where}: "
            f"{report.frames_per_second:.1f} frames/s overall"
        )
        if report.restore_seconds:
            line += f", restoring alone {report.frames_written / report.restore_seconds:.1f}"
            line += " frames/s"
        print(line, file=sys.stderr)
    return 0


def _run_psf(args) -> int:
    from pathlib import Path

    import numpy as np

    from .io import write_image

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
