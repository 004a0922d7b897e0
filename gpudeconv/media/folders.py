"""Restoring image files: one file, or many into a folder, in batches.

Frames of equal shape and dtype are restored together (one batched
computation, on the GPU when there is one); colour, grey and colour with
alpha are kept as they came (alpha untouched), 8- and 16-bit too. Every
output is written atomically. In folder mode an output that already exists is
skipped, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .images import read_photo, write_image

IMAGE_SUFFIXES = {
    ".png",
    ".jpg",
    ".jpeg",
    ".jpe",
    ".tif",
    ".tiff",
    ".bmp",
    ".dib",
    ".webp",
    ".pbm",
    ".pgm",
    ".ppm",
    ".pnm",
    ".pxm",
    ".sr",
    ".ras",
    ".jp2",
    ".exr",
    ".hdr",
    ".pic",
}


@dataclass
class Report:
    """What a run did: counts, and each failure with its reason."""

    restored: int = 0
    skipped: int = 0  # the output exists already
    not_images: int = 0  # files in the folders given that are not images
    subfolders: int = 0  # folders not searched (no --recursive)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"restored {self.restored}"]
        if self.skipped:
            parts.append(f"skipped {self.skipped} (output exists; --overwrite replaces)")
        if self.not_images:
            parts.append(f"{self.not_images} file(s) left alone (not images, or hidden)")
        if self.subfolders:
            parts.append(f"{self.subfolders} subfolder(s) not searched (--recursive does)")
        parts.append(f"failed {len(self.failed)}")
        return ", ".join(parts)


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def expand_inputs(
    specs: Iterable[str],
    report: Report,
    *,
    recursive: bool = False,
    exclude: Path | None = None,
) -> list[tuple[Path, Path]]:
    """(file, its path relative to the folder given) for the files named,
    found in folders (their subfolders too when ``recursive``, never the
    ``exclude`` folder) or matched by globs, in order and without duplicates.
    Missing inputs go to ``report.failed``; files that are not images and
    folders not searched are counted in ``report``."""
    found: dict[Path, Path] = {}
    skip = exclude.resolve() if exclude is not None else None
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            for file, relative in _walk(path, recursive, skip, report):
                found.setdefault(file, relative)
        elif path.exists():
            found.setdefault(path, Path(path.name))
        elif glob.has_magic(spec):
            matches = sorted(Path(p) for p in glob.glob(spec) if Path(p).is_file())
            if not matches:
                report.failed.append((spec, "no file matches this pattern"))
            for match in matches:
                found.setdefault(match, Path(match.name))
        else:
            report.failed.append((spec, "no such file or folder"))
    return list(found.items())


def _walk(folder: Path, recursive: bool, skip: Path | None, report: Report):
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            if skip is not None and entry.resolve() == skip:
                continue
            if not recursive:
                report.subfolders += 1
                continue
            for file, relative in _walk(entry, recursive, skip, report):
                yield file, entry.name / relative
        elif is_image_name(entry):
            yield entry, Path(entry.name)
        elif entry.is_file():
            report.not_images += 1


def is_single(specs: list[str], output: str) -> bool:
    """One input file and an output that is not a folder: write that file."""
    if len(specs) != 1:
        return False
    source, target = Path(specs[0]), Path(output)
    return (
        source.is_file()
        and not target.is_dir()
        and not output.endswith(("/", "\\"))
        and target.suffix != ""
    )


def looks_like_image_file(output: str) -> bool:
    """An OUTPUT named like an image file (and not an existing folder)."""
    target = Path(output)
    return not target.is_dir() and target.suffix.lower() in IMAGE_SUFFIXES


def plan_outputs(inputs: list[tuple[Path, Path]], folder: Path) -> list[tuple[Path, Path]]:
    """(input, output) pairs for folder mode: relative paths are kept, so two
    inputs with the same one are refused, and so is an output that would
    replace its own input."""
    pairs, seen = [], {}
    for path, relative in inputs:
        target = folder / relative
        if same_file(path, target):
            raise ValueError(
                f"the output {target} is the input itself; choose another output folder"
            )
        if target in seen:
            raise ValueError(
                f"{seen[target]} and {path} would both be written to {target}; "
                "restore them in separate runs"
            )
        seen[target] = path
        pairs.append((path, target))
    return pairs


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file (links and ``..`` included)."""
    try:
        return a.resolve() == b.resolve() or (b.exists() and a.samefile(b))
    except OSError:
        return False


def split_channels(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(the part to restore, the alpha channel or None): grey, grey+alpha,
    BGR and BGRA as OpenCV reads them."""
    if image.ndim == 3 and image.shape[2] in (2, 4):
        return image[..., :-1], image[..., -1:]
    if image.ndim == 3 and image.shape[2] == 1:
        return image[..., 0], None
    return image, None


def merge_channels(restored: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    if alpha is None:
        return restored
    if restored.ndim == 2:
        restored = restored[..., None]
    return np.concatenate([restored, alpha], axis=-1)


def restore_files(
    pairs: list[tuple[Path, Path]],
    make_restorer: Callable[[int | None], Callable[[np.ndarray], np.ndarray]],
    *,
    batch_size: int = 16,
    skip_existing: bool = True,
    report: Report | None = None,
    on_error: Callable[[str, str], None] = lambda path, reason: None,
    progress: bool = False,
) -> Report:
    """Restore each input into its output, batching equal-sized images.

    ``make_restorer(channel_axis)`` returns the restoring callable for grey
    (None) or colour (-1) batches, e.g. a :class:`gpudeconv.Wiener`.
    """
    from tqdm import tqdm

    report = report or Report()
    restorers: dict = {}
    groups: dict[tuple, list] = {}

    def flush(key):
        members = groups.pop(key)
        axis = -1 if len(key[0]) == 3 else None  # (rows, cols, channels): colour
        if axis not in restorers:
            restorers[axis] = make_restorer(axis)
        batch = np.stack([m[2] for m in members])
        try:
            restored = restorers[axis](batch)
        except (MemoryError, ValueError) as exc:  # e.g. images smaller than the PSF
            reason = f"out of memory: {exc}" if isinstance(exc, MemoryError) else str(exc)
            for source, *_ in members:
                report.failed.append((str(source), reason))
                on_error(str(source), reason)
            return
        for (source, target, _, alpha, metadata), frame in zip(members, restored, strict=True):
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                write_image(target, merge_channels(frame, alpha), metadata)
            except Exception as exc:  # OSError, ValueError, cv2.error: name it, go on
                report.failed.append((str(source), f"cannot write {target}: {exc}"))
                on_error(str(source), f"cannot write {target}: {exc}")
                continue
            report.restored += 1
            bar.update(1)

    todo = []
    for source, target in pairs:
        if skip_existing and target.exists():
            report.skipped += 1
        else:
            todo.append((source, target))
    bar = tqdm(total=len(todo), unit="image", disable=not progress, leave=False)
    try:
        for source, target in todo:
            try:
                image, metadata = read_photo(source)
            except (OSError, ValueError) as exc:
                report.failed.append((str(source), str(exc)))
                on_error(str(source), str(exc))
                bar.update(1)
                continue
            part, alpha = split_channels(image)
            key = (part.shape, part.dtype.str)
            groups.setdefault(key, []).append((source, target, part, alpha, metadata))
            if len(groups[key]) >= batch_size:
                flush(key)
            elif sum(len(g) for g in groups.values()) >= 4 * batch_size:
                flush(max(groups, key=lambda k: len(groups[k])))  # bound what is held
        for key in list(groups):
            flush(key)
    finally:
        bar.close()
    return report


def restore_file(source, target, tasks) -> None:
    """Read, restore and atomically write one image (a task for a worker):
    ``tasks`` maps the channel axis (None for grey, -1 for colour) to a
    restoring callable."""
    image, metadata = read_photo(source)
    part, alpha = split_channels(image)
    restored = tasks[-1 if part.ndim == 3 else None](part)
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    write_image(target, merge_channels(restored, alpha), metadata)


def restore_files_distributed(
    pairs,
    tasks,
    client,
    *,
    skip_existing=True,
    report=None,
    on_error=lambda path, reason: None,
    progress=False,
) -> Report:
    """:func:`restore_files` on a ``distributed.Client``: one task per image,
    read and written by the workers (which must see the same paths)."""
    from distributed import as_completed
    from tqdm import tqdm

    report = report or Report()
    futures = {}
    for source, target in pairs:
        if skip_existing and target.exists():
            report.skipped += 1
            continue
        future = client.submit(restore_file, source, target, tasks, pure=False)
        futures[future] = source
    with tqdm(total=len(futures), unit="image", disable=not progress, leave=False) as bar:
        for future in as_completed(futures):
            source = futures[future]
            try:
                future.result()
                report.restored += 1
            except Exception as exc:  # the worker's error, named per file
                report.failed.append((str(source), str(exc)))
                on_error(str(source), str(exc))
            bar.update(1)
    return report
