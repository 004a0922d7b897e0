"""``gpudeconv video`` end to end, on real files made here (the other commands:
test_deblur.py, test_psf_command.py)."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import psnr, run_gpudeconv

import gpudeconv
from gpudeconv.commands.demo import builtin_image
from gpudeconv.media import video

KERNEL = "motion:15:30"


run = run_gpudeconv


@pytest.fixture(scope="module")
def sharp():
    return builtin_image()[:200, :240]


@pytest.fixture(scope="module")
def blurred(sharp):
    return gpudeconv.blur(sharp, gpudeconv.psf.from_spec(KERNEL), channel_axis=-1)


def make_clip(path, fourcc, sharp, n=30, fps=12.0):
    """A moving crop of a real photo, blurred: a short shaky-camera clip."""
    kernel = gpudeconv.psf.from_spec(KERNEL)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (160, 120))
    truth = []
    for i in range(n):
        crop = np.ascontiguousarray(sharp[20 + i : 140 + i, 30 + 2 * i : 190 + 2 * i])
        truth.append(crop)
        writer.write(gpudeconv.blur(crop, kernel, channel_axis=-1))
    writer.release()
    return truth


def read_all(path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return frames, fps


@pytest.mark.parametrize("name, fourcc", [("clip.avi", "MJPG"), ("clip.mp4", "mp4v")])
def test_video_keeps_count_rate_and_size_and_sharpens(tmp_path, name, fourcc):
    sharp = builtin_image()
    truth = make_clip(tmp_path / name, fourcc, sharp)
    target = tmp_path / f"restored{Path(name).suffix}"
    result = run("video", tmp_path / name, target, "--psf", KERNEL, "--batch-size", "7")
    assert result.returncode == 0, result.stderr
    assert "frames/s" in result.stderr
    blurred, _ = read_all(tmp_path / name)
    restored, fps = read_all(target)
    assert len(restored) == len(truth) == 30 and fps == pytest.approx(12.0)
    assert restored[0].shape == (120, 160, 3)
    if fourcc == "MJPG":
        triples = zip(truth, restored, blurred, strict=True)
        gain = np.mean([psnr(t, r) - psnr(t, b) for t, r, b in triples])
        assert gain > 1, gain
    assert not [p for p in tmp_path.iterdir() if ".part" in p.name]


def test_failed_video_leaves_no_output(tmp_path):
    make_clip(tmp_path / "clip.avi", "MJPG", builtin_image())
    calls = []

    def failing(batch):
        calls.append(len(batch))
        if len(calls) == 2:
            raise RuntimeError("GPU fell off the bus")
        return batch

    with pytest.raises(RuntimeError, match="bus"):
        video.restore_video(tmp_path / "clip.avi", tmp_path / "out.avi", failing, batch_size=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.avi"]


def test_video_of_an_image_or_garbage(tmp_path, blurred):
    cv2.imwrite(str(tmp_path / "a.png"), blurred)
    (tmp_path / "junk.avi").write_bytes(b"\0" * 1000)
    for source in ("a.png", "junk.avi", "missing.mp4"):
        result = run("video", tmp_path / source, tmp_path / "out.mp4", "--psf", KERNEL)
        assert result.returncode == 1 and "Traceback" not in result.stderr, source
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "out.mp4").exists()


def test_video_help_says_audio_is_not_kept():
    assert "audio" in run("video", "--help").stdout
