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
    options.restorer(args, None)  # so are options that do not go together
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
    chosen: list = []  # the snr of every plane with --snr auto, for one line at the end
    if client is None:
        files.restore_files(
            pairs,
            lambda axis: _recording(options.restorer(args, axis), chosen),
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
        if chosen:
            print(f"gpudeconv deblur: {_snr_range(chosen)}", file=sys.stderr)
        print(f"gpudeconv deblur: {report.summary()}", file=sys.stderr)
    return 1 if report.failed else 0


def _recording(restorer, chosen: list):
    """``restorer``, noting each call's automatic snr per plane in ``chosen``."""
    if getattr(restorer, "snr", None) != "auto":
        return restorer

    def restore(batch):
        restored = restorer(batch)
        chosen.append(np.ravel(restorer.last_snr))
        return restored

    return restore


def _snr_range(chosen: list) -> str:
    values = np.concatenate(chosen)
    return (
        f"snr auto chose {values.min():.3g} to {values.max():.3g} "
        f"(median {np.median(values):.3g}) over {values.size} planes"
    )
