"""``psf --estimate``, ``deblur --psf auto`` and ``video --psf auto``, end to end."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import scipy.signal
from conftest import DATA, psnr, run_gpudeconv

from gpudeconv.psf import from_spec, motion

TRUE = motion(15, 30)


def blurred_photo(index: int = 3, noise: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(blurred uint8, the matching crop of the sharp photo)."""
    sharp = cv2.imread(str(DATA / f"0{index}.png"), cv2.IMREAD_GRAYSCALE)
    b = scipy.signal.fftconvolve(sharp.astype(np.float64), TRUE, mode="valid")
    b += noise * np.random.default_rng(index).standard_normal(b.shape)
    half = TRUE.shape[0] // 2
    crop = sharp[half : half + b.shape[0], half : half + b.shape[1]]
    return np.clip(np.rint(b), 0, 255).astype(np.uint8), crop


def test_estimate_then_reuse_the_kernel(tmp_path):
    image, sharp = blurred_photo()
    cv2.imwrite(str(tmp_path / "photo.png"), image)
    done = run_gpudeconv("psf", "--estimate", "photo.png", "-o", "k.npy", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    spec, confidence, reason = done.stdout.splitlines()[0].split("\t")
    assert spec.startswith("motion:") and float(confidence.split()[1]) >= 0.5 and reason
    kernel = np.load(tmp_path / "k.npy")
    np.testing.assert_array_equal(kernel, from_spec(spec))  # the printed spec is the kernel
    length, angle = (float(v) for v in spec.split(":")[1:])
    assert abs(length - 15) <= 1.5 and abs((angle - 30 + 90) % 180 - 90) <= 3

    done = run_gpudeconv("deblur", "photo.png", "--psf", "k.npy", "-o", "out.png", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    restored = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_GRAYSCALE)
    assert psnr(sharp, restored) > psnr(sharp, image) + 2


def test_estimate_writes_a_picture_and_refuses_to_overwrite(tmp_path):
    cv2.imwrite(str(tmp_path / "photo.png"), blurred_photo()[0])
    done = run_gpudeconv("psf", "--estimate", "photo.png", "-o", "k.png", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert cv2.imread(str(tmp_path / "k.png")) is not None
    done = run_gpudeconv("psf", "--estimate", "photo.png", "-o", "k.png", cwd=tmp_path)
    assert done.returncode != 0 and "exists" in done.stderr


def test_estimate_says_low_confidence(tmp_path):
    flat = np.full((96, 96), 128, np.uint8)
    cv2.imwrite(str(tmp_path / "flat.png"), flat)
    done = run_gpudeconv("psf", "--estimate", "flat.png", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "confidence 0.00" in done.stdout and "low confidence" in done.stderr


@pytest.mark.parametrize(
    "args",
    [("psf", "-o", "x.png"), ("psf", "motion:9:0", "--estimate", "p.png"), ("psf", "motion:9:0")],
)
def test_psf_needs_a_spec_or_a_photo(tmp_path, args):
    cv2.imwrite(str(tmp_path / "p.png"), blurred_photo()[0])
    done = run_gpudeconv(*args, cwd=tmp_path)
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0 and "gpudeconv psf" in done.stderr


def test_deblur_auto_estimates_each_image(tmp_path):
    image, sharp = blurred_photo(3)
    colour = cv2.merge([blurred_photo(4)[0]] * 3)
    cv2.imwrite(str(tmp_path / "a.png"), image)
    cv2.imwrite(str(tmp_path / "b.png"), colour)
    done = run_gpudeconv("deblur", "a.png", "b.png", "--psf", "auto", "-o", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if "--psf motion:" in line]
    assert len(lines) == 2 and "a.png" in lines[0] and "b.png" in lines[1]
    restored = cv2.imread(str(tmp_path / "out" / "a.png"), cv2.IMREAD_GRAYSCALE)
    assert psnr(sharp, restored) > psnr(sharp, image) + 2
    assert cv2.imread(str(tmp_path / "out" / "b.png")).shape == colour.shape


def test_video_auto_estimates_from_frames_over_the_clip(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (240, 240))
    for i in range(12):
        frame = blurred_photo(1 + i % 4, noise=1.0)[0][:240, :240]
        writer.write(cv2.merge([frame] * 3))
    writer.release()
    done = run_gpudeconv("video", "clip.avi", "out.avi", "--psf", "auto", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "frames sampled" in done.stdout and "--psf motion:" in done.stdout
    spec = done.stdout.split("--psf ")[1].split()[0]
    length, angle = (float(v) for v in spec.split(":")[1:])
    assert abs(length - 15) <= 1.5 and abs((angle - 30 + 90) % 180 - 90) <= 3
    assert (tmp_path / "out.avi").stat().st_size > 0
