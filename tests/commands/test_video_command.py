"""``gpudeconv video`` end to end: what it says, what it exits with, what it
leaves behind."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from conftest import psnr, run_gpudeconv
from video_clips import KERNEL, audio_packets, make_clip, read_video

import gpudeconv
from gpudeconv.commands.video_snr import SnrSmoother
from gpudeconv.engine.dispatch import cupy_usable
from gpudeconv.media.video_planes import ToPlanes, plane_format
from gpudeconv.media.video_read import open_source
from gpudeconv.media.video_write import encoder_options, try_encoder

run = run_gpudeconv
ROOT = Path(__file__).resolve().parents[2]


def test_video_restores_keeps_audio_and_reports_it(tmp_path):
    truth = make_clip(tmp_path / "clip.mp4", n=30)
    target = tmp_path / "restored.mp4"
    result = run("video", tmp_path / "clip.mp4", target, "--psf", KERNEL, "--batch-size", "7")
    assert result.returncode == 0, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "wrote 30 frames (160x120 at 12 fps, libx264 yuv420p, crf 18, " in last
    assert "restored as yuv420p planes)" in last
    assert "frames/s" in last and "streams copied: audio (aac)" in last
    blurred, _, _ = read_video(tmp_path / "clip.mp4")
    restored, _, info = read_video(target)
    assert len(restored) == 30 and info["rate"] == 12 and info["size"] == (120, 160)
    gain = np.mean(
        [psnr(t, r) - psnr(t, b) for t, r, b in zip(truth, restored, blurred, strict=True)]
    )
    assert gain > 1, gain
    assert audio_packets(target) == audio_packets(tmp_path / "clip.mp4")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("method", ["wiener", "richardson_lucy"])
def test_ten_bit_video_is_restored_as_ten_bit(tmp_path, method):
    truth = make_clip(tmp_path / "in.mkv", n=4, pix_fmt="yuv420p10le", audio=False)
    extra = ["--iterations", "10"] if method == "richardson_lucy" else []
    result = run(
        "video", tmp_path / "in.mkv", tmp_path / "out.mkv", "--psf", KERNEL, "--method", method,
        *extra,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    route = "yuv420p10le planes" if method == "wiener" else "bgr48le"
    assert "libx264 yuv420p10le" in result.stderr and f"restored as {route}" in result.stderr
    blurred, _, _ = read_video(tmp_path / "in.mkv", fmt="bgr48le")
    restored, _, info = read_video(tmp_path / "out.mkv", fmt="bgr48le")
    assert info["pix_fmt"] == "yuv420p10le"
    sharp = [t.astype(np.uint16) * 257 for t in truth]
    gain = np.mean([
        psnr(t, r, data_range=65535) - psnr(t, b, data_range=65535)
        for t, r, b in zip(sharp, restored, blurred, strict=True)
    ])  # fmt: skip
    assert gain > 1, gain


def test_codec_crf_and_preset(tmp_path):
    make_clip(tmp_path / "clip.mp4", n=8, audio=False)
    sizes = {}
    for crf in ("12", "35"):
        target = tmp_path / f"crf{crf}.mkv"
        result = run(
            "video", tmp_path / "clip.mp4", target, "--psf", KERNEL, "--codec", "hevc",
            "--crf", crf, "--preset", "ultrafast",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert f"libx265 yuv420p, crf {crf}" in result.stderr
        assert read_video(target)[2]["codec"] == "hevc"
        sizes[crf] = target.stat().st_size
    assert sizes["12"] > 2 * sizes["35"]
    for options, message in (
        (["--fourcc", "mp4v"], "use --codec"),
        (["--crf", "-3"], "--crf"),
        (["--codec", "mpeg4", "--crf", "5"], "no constant-quality mode"),
        (["--codec", "no-such-encoder"], "cannot encode 'no-such-encoder'"),
    ):
        result = run("video", tmp_path / "clip.mp4", tmp_path / "x.mp4", "--psf", KERNEL, *options)
        assert result.returncode != 0 and message in result.stderr, (options, result.stderr)
        assert "Traceback" not in result.stderr
        assert not (tmp_path / "x.mp4").exists()


def luma_planes(path):
    container, info = open_source(path)
    to_planes = ToPlanes(plane_format(info.pix_fmt))
    planes = [to_planes(frame)[0] for frame in container.decode(video=0)]
    container.close()
    return np.stack(planes)


def test_snr_auto_is_smoothed_on_the_command_line(tmp_path):
    make_clip(tmp_path / "clip.mp4", n=12, audio=False)
    result = run(
        "video", tmp_path / "clip.mp4", tmp_path / "out.mp4", "--psf", KERNEL, "--snr", "auto",
        "--crf", "0",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "restored as yuv420p planes" in result.stderr
    blurred, restored = luma_planes(tmp_path / "clip.mp4"), luma_planes(tmp_path / "out.mp4")
    psf = gpudeconv.psf.from_spec(KERNEL)
    # Chosen per frame on the luma plane about black, smoothed over time.
    _, raw = gpudeconv.wiener(blurred - 16.0, psf, snr="auto", return_snr=True, backend="numpy")
    smoothed = SnrSmoother()(raw)
    # Each frame's luma restored with its smoothed choice, about black (16);
    # CRF 0 is lossless.
    for frame, out, value in zip(blurred, restored, smoothed, strict=True):
        reference = gpudeconv.wiener(frame - 16.0, psf, snr=value, backend="numpy") + 16
        reference = np.clip(reference, min(16, frame.min()), max(235, frame.max())).round()
        assert psnr(reference, out) > 45
    # One line says what was chosen: the range of the smoothed values.
    line = next(x for x in result.stderr.splitlines() if "snr auto chose" in x)
    low, high = (float(v) for v in line.split("chose ")[1].split(" (")[0].split(" to "))
    assert low == pytest.approx(smoothed.min(), rel=0.01)
    assert high == pytest.approx(smoothed.max(), rel=0.01)
    assert "for 12 frames" in line


@pytest.mark.parametrize("make", ["image", "garbage", "missing", "folder", "same", "link"])
def test_inputs_that_cannot_work_are_one_line(tmp_path, make):
    make_clip(tmp_path / "clip.mp4", n=3, audio=False)
    source, target = tmp_path / "x.mp4", tmp_path / "out.mp4"
    if make == "image":
        source = tmp_path / "a.png"
        cv2.imwrite(str(source), np.zeros((32, 32, 3), np.uint8))
    elif make == "garbage":
        source.write_bytes(b"\0" * 1000)
    elif make == "folder":
        source = tmp_path
    elif make == "same":
        source = target = tmp_path / "clip.mp4"
    elif make == "link":
        source = tmp_path / "clip.mp4"
        target.symlink_to(source)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    result = run("video", source, target, "--psf", KERNEL, "--overwrite")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    expected = {
        "image": "is an image",
        "garbage": "cannot read",
        "missing": "no such video",
        "folder": "is a folder",
        "same": "is the input",
        "link": "is the input",
    }[make]
    assert expected in result.stderr
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


def test_truncated_input_keeps_frames_says_counts_and_exits_1(tmp_path):
    make_clip(tmp_path / "clip.mp4", n=40, container_options={"movflags": "faststart"})
    data = (tmp_path / "clip.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    result = run("video", tmp_path / "cut.mp4", tmp_path / "out.mp4", "--psf", KERNEL)
    assert result.returncode == 1, result.stderr
    frames, _, _ = read_video(tmp_path / "out.mp4")
    assert 5 < len(frames) < 40
    assert f"read {len(frames)} frames of 40 declared" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def small_disk(tmp_path):
    """A 200 kB tmpfs, where the test may mount one."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (the writer failure is tested in tests/media)")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_full_disk_fails_with_one_line_and_leaves_nothing(tmp_path, small_disk):
    make_clip(tmp_path / "clip.mp4", n=200, rows=240, cols=320, options={"crf": "0"})
    assert (tmp_path / "clip.mp4").stat().st_size > 2 * 200_000  # twice the disk
    result = run(
        "video", tmp_path / "clip.mp4", small_disk / "out.mp4", "--psf", KERNEL, "--crf", "0",
        "--preset", "ultrafast",
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "No space left on device" in last and "Traceback" not in result.stderr
    assert "wrote" not in result.stderr
    assert list(small_disk.iterdir()) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_leaves_nothing_behind(tmp_path, sig):
    make_clip(tmp_path / "clip.mp4", n=150, audio=False)
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "gpudeconv", "video", str(tmp_path / "clip.mp4"),
               str(out / "x.mp4"), "--psf", KERNEL, "--batch-size", "1", "--method",
               "richardson_lucy"]  # fmt: skip
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    for _ in range(600):  # until the temporary output exists
        if any(out.iterdir()) or process.poll() is not None:
            break
        time.sleep(0.05)
    assert process.poll() is None, "finished before the signal"
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted" in stderr, stderr
    assert list(out.iterdir()) == []


@pytest.mark.gpu
@pytest.mark.skipif(not cupy_usable(), reason="CuPy with a CUDA device is not available")
def test_gpu_path_encodes_with_nvenc_when_it_opens(tmp_path):
    make_clip(tmp_path / "clip.mp4", n=6)
    container, info = open_source(tmp_path / "clip.mp4")
    container.close()
    try:
        try_encoder("h264_nvenc", "yuv420p", info, encoder_options("h264_nvenc", None, None))
        expected = "h264_nvenc"
    except (av.FFmpegError, ValueError, OSError):
        expected = "libx264"
    result = run("video", tmp_path / "clip.mp4", tmp_path / "out.mp4", "--psf", KERNEL,
                 "--backend", "cupy")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"(160x120 at 12 fps, {expected} " in result.stderr
    assert ", decoded with h264 (" in result.stderr  # cuda, or why not
    assert audio_packets(tmp_path / "out.mp4") == audio_packets(tmp_path / "clip.mp4")


def test_video_help_says_what_is_kept():
    from conftest import run_gpudeconv

    result = run_gpudeconv("video", "--help")
    assert result.returncode == 0 and "audio" in result.stdout
