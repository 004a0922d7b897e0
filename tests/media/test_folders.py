"""Batches of image files: what is found, where it goes, what is refused."""

from pathlib import Path

import cv2
import numpy as np
import pytest

import gpudeconv
from gpudeconv.media import folders as files


def tree(root: Path) -> None:
    """shots/{a.png, notes.txt, .hidden.png, day1/{b.png, day1b/c.jpg, raw.cr2}}"""
    image = np.full((16, 16), 128, np.uint8)
    (root / "day1" / "day1b").mkdir(parents=True)
    for name in ("a.png", ".hidden.png", "day1/b.png", "day1/day1b/c.jpg"):
        assert cv2.imwrite(str(root / name), image)
    (root / "notes.txt").write_text("not an image")
    (root / "day1" / "raw.cr2").write_bytes(b"raw")


def test_folders_are_searched_recursively_only_when_asked(tmp_path):
    tree(tmp_path / "shots")
    flat = files.Report()
    found = files.expand_inputs([str(tmp_path / "shots")], flat)
    assert [relative for _, relative in found] == [Path("a.png")]
    assert (flat.not_images, flat.subfolders) == (2, 1)  # notes.txt, .hidden.png; day1
    deep = files.Report()
    found = files.expand_inputs([str(tmp_path / "shots")], deep, recursive=True)
    assert [relative.as_posix() for _, relative in found] == [
        "a.png",
        "day1/b.png",
        "day1/day1b/c.jpg",
    ]
    assert (deep.not_images, deep.subfolders) == (3, 0)  # and raw.cr2
    assert "3 file(s) left alone (not images, or hidden)" in deep.summary()


def test_the_output_folder_is_not_searched(tmp_path):
    tree(tmp_path / "shots")
    report = files.Report()
    found = files.expand_inputs(
        [str(tmp_path / "shots")], report, recursive=True, exclude=tmp_path / "shots" / "day1"
    )
    assert [relative for _, relative in found] == [Path("a.png")]


def test_outputs_keep_the_structure_and_never_replace_their_input(tmp_path):
    tree(tmp_path / "shots")
    found = files.expand_inputs([str(tmp_path / "shots")], files.Report(), recursive=True)
    pairs = files.plan_outputs(found, tmp_path / "out")
    assert pairs[2] == (tmp_path / "shots/day1/day1b/c.jpg", tmp_path / "out/day1/day1b/c.jpg")
    with pytest.raises(ValueError, match="is the input itself"):
        files.plan_outputs(found, tmp_path / "shots")
    with pytest.raises(ValueError, match="would both be written"):
        files.plan_outputs([(tmp_path / "x/a.png", Path("a.png"))] * 2, tmp_path / "out")


def test_the_summary_says_why(tmp_path):
    report = files.Report(restored=2, skipped=3, not_images=1)
    assert report.summary() == (
        "restored 2, skipped 3 (output exists; --overwrite replaces), "
        "1 file(s) left alone (not images, or hidden), failed 0"
    )


def test_equal_sized_images_are_restored_in_batches(tmp_path, astronaut):
    blurred = astronaut[:200, :240]
    pairs = []
    for i in range(7):
        path = tmp_path / f"{i}.png"
        cv2.imwrite(str(path), blurred if i % 2 else blurred[:100])
        pairs.append((path, tmp_path / "out" / path.name))
    sizes = []

    def make_restorer(channel_axis):
        restore = gpudeconv.Wiener(gpudeconv.psf.motion(15, 30), channel_axis=channel_axis)

        def counting(batch):
            sizes.append(len(batch))
            return restore(batch)

        return counting

    report = files.restore_files(pairs, make_restorer, batch_size=3)
    assert report.restored == 7 and sorted(sizes) == [1, 3, 3]
