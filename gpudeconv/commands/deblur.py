"""``gpudeconv deblur``: restore image files, folders and globs."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..engine.dispatch import resolve_backend
from ..media import folders as files
from . import options


def register(sub, parents) -> None:
    """Add the ``deblur`` subcommand; ``parents`` are the restore options (for the
    commands that restore) and ``--debug``."""
    deblur = sub.add_parser(
        "deblur",
        parents=parents,
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
    deblur.set_defaults(run=run)


def run(args) -> int:
    resolve_backend(args.backend)  # a missing GPU is one clear error, before any work
    auto = options.is_auto(args.psf)
    # So are options that do not go together (checked with a stand-in PSF for auto).
    options.restorer(options.with_psf(args, np.ones((1, 1))) if auto else args, None)
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
            options.error("deblur", f"{path}: {reason}")
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OSError(f"cannot create output folder {output}: {exc.strerror or exc}") from None
        pairs, skip_existing = files.plan_outputs(inputs, output), not args.overwrite
    on_error = lambda path, reason: options.error("deblur", f"{path}: {reason}")  # noqa: E731
    client = options.client(args)
    if auto:
        if client is not None:
            client.close()
            raise ValueError("--psf auto runs locally; it does not combine with --scheduler")
        restore_estimated(args, pairs, skip_existing, report, on_error)
    elif client is None:
        files.restore_files(
            pairs,
            lambda axis: options.restorer(args, axis),
            batch_size=args.batch_size,
            skip_existing=skip_existing,
            report=report,
            on_error=on_error,
            progress=not args.quiet,
        )
    else:
        try:
            tasks = {axis: options.remote_task(args, axis) for axis in (None, -1)}
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


def restore_estimated(args, pairs, skip_existing, report, on_error) -> None:
    """``--psf auto``: estimate each image's blur, say it, restore with it."""
    from ..estimate.psf import estimate_psf
    from ..media.images import read_image

    for source, target in pairs:
        if skip_existing and target.exists():
            report.skipped += 1
            continue
        try:
            image, _ = files.split_channels(read_image(source))
            axis = -1 if image.ndim == 3 else None
            estimate = estimate_psf(image, channel_axis=axis, backend=args.backend)
        except (OSError, ValueError) as exc:
            report.failed.append((source, str(exc)))
            on_error(source, str(exc))
            continue
        options.report_estimate("deblur", source, estimate)
        estimated = options.with_psf(args, estimate.psf)
        files.restore_files(
            [(source, target)],
            lambda axis, estimated=estimated: options.restorer(estimated, axis),
            batch_size=1,
            skip_existing=False,
            report=report,
            on_error=on_error,
            progress=False,
        )
