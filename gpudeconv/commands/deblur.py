"""``gpudeconv deblur``: restore image files, folders and globs."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

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
        "globs: OUTPUT is a folder (created), file names are kept (and subfolders, with "
        "--recursive), and outputs that already exist are skipped so that an interrupted run "
        "resumes. An output never replaces its input. Any format OpenCV reads and writes; "
        "grey, colour and colour with alpha (alpha kept untouched); 8 and 16 bit kept. Photos "
        "are restored as displayed (EXIF orientation applied; --psf angles are as you see "
        "them) and keep their ICC profile and EXIF where the format holds them. Equal-sized "
        "images are restored in batches. Files that cannot be read are named on stderr and "
        "the rest still restored; the exit status is then 1.",
    )
    deblur.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or globs")
    deblur.add_argument(
        "-o", "--output", required=True, metavar="OUTPUT", help="output file (one input) or folder"
    )
    deblur.add_argument(
        "-r",
        "--recursive",
        action="store_true",
        help="restore the images in the folders' subfolders too, into the same structure",
    )
    deblur.set_defaults(run=run)


def run(args) -> int:
    auto = options.is_auto(args.psf)
    # A missing GPU or clashing options fail here, before any work (with a
    # stand-in PSF for auto).
    options.restorer(options.with_psf(args, np.ones((1, 1))) if auto else args, None)
    report = files.Report()
    single = files.is_single(args.inputs, args.output)
    if single:
        pairs, skip_existing = [single_pair(args)], False
    else:
        pairs, skip_existing = folder_pairs(args, report), not args.overwrite

    def on_error(path, reason):  # the file named once per message
        options.error("deblur", reason if path in reason else f"{path}: {reason}")

    client = options.client(args)
    chosen: list = []  # the snr of every plane with --snr auto, for one line at the end
    if auto:
        if client is not None:
            client.close()
            raise ValueError("--psf auto runs locally; it does not combine with --scheduler")
        restore_estimated(args, pairs, skip_existing, report, on_error)
    elif client is None:
        files.restore_files(
            pairs,
            lambda axis: _recording(options.restorer(args, axis), chosen),
            batch_size=args.batch_size,
            skip_existing=skip_existing,
            report=report,
            on_error=on_error,
            progress=not args.quiet and sys.stderr.isatty(),
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
                progress=not args.quiet and sys.stderr.isatty(),
            )
        finally:
            client.close()
    if not args.quiet and not (single and report.failed):  # one file: its error says it all
        if chosen:
            print(f"gpudeconv deblur: {_snr_range(chosen)}", file=sys.stderr)
        print(f"gpudeconv deblur: {report.summary()}", file=sys.stderr)
    return 1 if report.failed else 0


def single_pair(args) -> tuple[Path, Path]:
    source, output = Path(args.inputs[0]), Path(args.output)
    if files.same_file(source, output):
        raise ValueError(f"the output {output} is the input itself; choose another name")
    if output.exists() and not args.overwrite:
        raise FileExistsError(f"{output} exists; pass --overwrite to replace it")
    output.parent.mkdir(parents=True, exist_ok=True)
    return source, output


def folder_pairs(args, report: files.Report) -> list[tuple[Path, Path]]:
    """Folder mode's (input, output) pairs; refusals before anything is written."""
    output = Path(args.output)
    if len(args.inputs) == 1 and not Path(args.inputs[0]).exists():
        if not any(c in args.inputs[0] for c in "*?["):
            raise FileNotFoundError(f"no such file or folder: {args.inputs[0]}")
    if files.looks_like_image_file(args.output):
        raise ValueError(
            f"-o {args.output} names a file, but several inputs, a folder or a glob need an "
            "output folder (e.g. -o restored/)"
        )
    inputs = files.expand_inputs(args.inputs, report, recursive=args.recursive, exclude=output)
    if not inputs:  # one line that says why
        searched = " or ".join(args.inputs)
        why = [f"{path}: {reason}" for path, reason in report.failed]
        if report.not_images or report.subfolders:
            why.append(report.summary())
        more = f" ({'; '.join(why)})" if why else ""
        raise FileNotFoundError(f"no images found in {searched}{more}")
    for path, reason in report.failed:
        options.error("deblur", f"{path}: {reason}")
    pairs = files.plan_outputs(inputs, output)
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"cannot create output folder {output}: {exc.strerror or exc}") from None
    return pairs


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
