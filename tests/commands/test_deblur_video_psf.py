"""The command line, end to end, on real files made here."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import psnr, run_gpudeconv

import gpudeconv
from gpudeconv.commands.demo import builtin_image
from gpudeconv.media import folders as files
from gpudeconv.media import video
from gpudeconv.media.images import partial_file, write_image

KERNEL = "motion:15:30"


run = run_gpudeconv


@pytest.fixture(scope="module")
def sharp():
    return builtin_image()[:200, :240]


@pytest.fixture(scope="module")
def blurred(sharp):
    return gpudeconv.blur(sharp, gpudeconv.psf.from_spec(KERNEL), channel_axis=-1)


def variants(blurred):
    """Name -> image as it is written: 8/16-bit, grey/colour/alpha."""
    grey = cv2.cvtColor(blurred, cv2.COLOR_BGR2GRAY)
    alpha = np.linspace(0, 255, blurred.shape[1]).astype(np.uint8)[None, :].repeat(200, 0)
    return {
        "rgb8.png": blurred,
        "grey8.png": grey,
        "rgb16.png": blurred.astype(np.uint16) * 257,
        "grey16.png": grey.astype(np.uint16) * 257,
        "alpha.png": np.dstack([blurred, alpha]),
        "rgb.tif": blurred,
        "photo.jpg": blurred,
    }


def test_folder_mode_keeps_format_depth_channels_and_alpha(tmp_path, sharp, blurred):
    source = tmp_path / "in"
    source.mkdir()
    images = variants(blurred)
    for name, image in images.items():
        assert cv2.imwrite(str(source / name), image)
    result = run("deblur", source, "-o", tmp_path / "out", "--psf", KERNEL)
    assert result.returncode == 0, result.stderr
    assert f"restored {len(images)}" in result.stderr
    grey_sharp = cv2.cvtColor(sharp, cv2.COLOR_BGR2GRAY)
    for name, image in images.items():
        out = cv2.imread(str(tmp_path / "out" / name), cv2.IMREAD_UNCHANGED)
        assert out is not None and out.shape == image.shape, name
        if name.endswith(".jpg"):
            continue  # lossy: shape only
        assert out.dtype == image.dtype, name
        scale = 257.0 if out.dtype == np.uint16 else 1.0
        colour = out[..., :3] if out.ndim == 3 else out
        reference = sharp if colour.ndim == 3 else grey_sharp
        before = image[..., :3] if image.ndim == 3 else image
        assert psnr(reference, colour / scale) > psnr(reference, before / scale) + 2, name
        if name == "alpha.png":
            np.testing.assert_array_equal(out[..., 3], image[..., 3])


def test_single_file_never_clobbers_without_overwrite(tmp_path, blurred):
    cv2.imwrite(str(tmp_path / "a.png"), blurred)
    target = tmp_path / "restored.png"
    assert run("deblur", tmp_path / "a.png", "-o", target, "--psf", KERNEL).returncode == 0
    first = target.read_bytes()
    cv2.imwrite(str(target), np.zeros((4, 4), np.uint8))
    kept = target.read_bytes()
    again = run("deblur", tmp_path / "a.png", "-o", target, "--psf", KERNEL)
    assert again.returncode != 0 and "--overwrite" in again.stderr
    assert target.read_bytes() == kept
    forced = run("deblur", tmp_path / "a.png", "-o", target, "--psf", KERNEL, "--overwrite")
    assert forced.returncode == 0 and target.read_bytes() == first


def test_folder_mode_resumes_and_names_broken_files(tmp_path, blurred):
    source = tmp_path / "in"
    source.mkdir()
    for i in range(4):
        cv2.imwrite(str(source / f"f{i}.png"), np.roll(blurred, i, axis=1))
    (source / "broken.png").write_bytes(b"this is not a PNG")
    out = tmp_path / "out"
    first = run("deblur", source, "-o", out, "--psf", KERNEL, "--batch-size", "3")
    assert first.returncode == 1
    assert "broken.png" in first.stderr and "restored 4" in first.stderr
    assert "Traceback" not in first.stderr
    assert sorted(p.name for p in out.iterdir()) == [f"f{i}.png" for i in range(4)]
    (out / "f2.png").unlink()  # as if the first run had been interrupted there
    second = run("deblur", source / "f*.png", "-o", out, "--psf", KERNEL)
    assert second.returncode == 0
    assert "restored 1, skipped 3" in second.stderr
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_equal_sized_images_are_restored_in_batches(tmp_path, blurred):
    pairs = []
    for i in range(7):
        path = tmp_path / f"{i}.png"
        cv2.imwrite(str(path), blurred if i % 2 else blurred[:100])
        pairs.append((path, tmp_path / "out" / path.name))
    (tmp_path / "out").mkdir()
    sizes = []

    def make_restorer(channel_axis):
        restore = gpudeconv.Wiener(gpudeconv.psf.from_spec(KERNEL), channel_axis=channel_axis)

        def counting(batch):
            sizes.append(len(batch))
            return restore(batch)

        return counting

    report = files.restore_files(pairs, make_restorer, batch_size=3)
    assert report.restored == 7 and sorted(sizes) == [1, 3, 3]


def test_partial_file_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "x.png"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with partial_file(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]
    # OpenCV would write these silently converted to 8 bit: refused instead.
    for name, dtype in (("y.jpg", np.uint16), ("y.jpg", np.float32), ("y.png", np.float32)):
        with pytest.raises(ValueError, match="format holds"):
            write_image(tmp_path / name, np.full((4, 4), 300, dtype))
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]


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


@pytest.mark.parametrize(
    "args, status, message",
    [
        (["deblur", "missing.png", "-o", "x.png", "--psf", KERNEL], 1, "no such file"),
        (["deblur", "broken.png", "-o", "x.png", "--psf", KERNEL], 1, "cannot read"),
        (["deblur", "a.png", "-o", "x.png", "--psf", "motion:abc"], 2, "PSF"),
        (["deblur", "a.png", "-o", "x.png", "--psf", "blob:3"], 2, "PSF"),
        (["deblur", "a.png", "-o", "x.png", "--psf", KERNEL, "--snr", "0"], 2, "snr"),
        (["deblur", "a.png", "-o", "x.png", "--psf", KERNEL, "--backend", "tpu"], 2, "backend"),
        (["deblur", "a.png", "b.png", "-o", "a.png/sub", "--psf", KERNEL], 1, "output folder"),
        (["video", "a.png", "x.mp4", "--psf", KERNEL], 1, "not a video"),
        (["psf", "gaussian:-2", "-o", "k.png"], 2, "sigma"),
    ],
)
def test_user_errors_are_one_line_and_nonzero(tmp_path, blurred, args, status, message):
    cv2.imwrite(str(tmp_path / "a.png"), blurred)
    cv2.imwrite(str(tmp_path / "b.png"), blurred)
    (tmp_path / "broken.png").write_bytes(b"garbage")
    before = set(tmp_path.iterdir())
    result = run(*args, cwd=tmp_path)
    assert result.returncode == status, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert set(tmp_path.iterdir()) == before  # a failed run leaves no output behind


def test_cupy_without_gpu_is_one_line(tmp_path, blurred):
    if "cupy" in gpudeconv.available_backends():
        pytest.skip("a GPU is usable here")
    cv2.imwrite(str(tmp_path / "a.png"), blurred)
    result = run(
        "deblur", "a.png", "-o", "x.png", "--psf", KERNEL, "--backend", "cupy", cwd=tmp_path
    )
    assert result.returncode == 1 and "CuPy is not usable" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "x.png").exists()


def test_debug_shows_the_traceback(tmp_path):
    result = run("--debug", "deblur", "missing.png", "-o", "x.png", "--psf", KERNEL, cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_psf_command_writes_a_viewable_kernel(tmp_path):
    np.save(tmp_path / "k.npy", np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], float))
    result = run("psf", tmp_path / "k.npy", "-o", tmp_path / "k.png", "--scale", "10")
    assert result.returncode == 0, result.stderr
    image = cv2.imread(str(tmp_path / "k.png"), cv2.IMREAD_UNCHANGED)
    assert image.shape == (30, 30) and image.max() == 255 and image[0, 0] == 0
    assert (image[10:20, 10:20] == 255).all() and (image[0:10, 10:20] == 64).all()
    from_image = run(
        "deblur", tmp_path / "k.png", "-o", tmp_path / "same.png", "--psf", tmp_path / "k.png"
    )
    assert from_image.returncode == 0, from_image.stderr


def test_every_command_has_help():
    for command in ("deblur", "video", "psf", "demo", "verify", "bench"):
        result = run(command, "--help")
        assert result.returncode == 0 and "usage: gpudeconv " + command in result.stdout
    assert "audio" in run("video", "--help").stdout


@pytest.mark.parametrize(
    "options",
    [
        ["--method", "sparse"],
        ["--method", "richardson_lucy", "--iterations", "10"],
        ["--snr", "auto"],
    ],
)
def test_methods_on_the_command_line(tmp_path, sharp, blurred, options):
    noisy = np.clip(blurred + np.random.default_rng(0).normal(0, 3, blurred.shape), 0, 255)
    cv2.imwrite(str(tmp_path / "a.png"), noisy.astype(np.uint8))
    result = run("deblur", tmp_path / "a.png", "-o", tmp_path / "b.png", "--psf", KERNEL, *options)
    assert result.returncode == 0, result.stderr
    restored = cv2.imread(str(tmp_path / "b.png"))
    assert psnr(sharp, restored) > psnr(sharp, noisy) + 1


def test_options_that_do_not_go_together(tmp_path, blurred):
    cv2.imwrite(str(tmp_path / "a.png"), blurred)
    for options in (
        ["--method", "sparse", "--reg", "laplacian"],
        ["--method", "sparse", "--border", "edgetaper"],
    ):
        result = run(
            "deblur", tmp_path / "a.png", "-o", tmp_path / "b.png", "--psf", KERNEL, *options
        )
        assert result.returncode == 1 and not (tmp_path / "b.png").exists()
        assert len(result.stderr.strip().splitlines()) == 1


def test_snr_auto_prints_the_range_of_chosen_values(tmp_path, blurred):
    frames = [blurred, cv2.cvtColor(blurred, cv2.COLOR_BGR2GRAY)]
    for k, image in enumerate(frames):
        assert cv2.imwrite(str(tmp_path / f"{k}.png"), image)
    result = run(
        "deblur", tmp_path / "*.png", "-o", tmp_path / "out", "--psf", KERNEL, "--snr", "auto"
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "snr auto chose" in line]
    assert len(lines) == 1, result.stderr  # one line per run, over every plane
    low, high = (float(v) for v in lines[0].split("chose ")[1].split(" (")[0].split(" to "))
    expected = [
        gpudeconv.wiener(
            f,
            gpudeconv.psf.from_spec(KERNEL),
            snr="auto",
            return_snr=True,
            channel_axis=-1 if f.ndim == 3 else None,
            backend="numpy",
        )[1]
        for f in frames
    ]
    values = np.concatenate([np.ravel(e) for e in expected])
    assert "over 4 planes" in lines[0]
    assert low == pytest.approx(values.min(), rel=2e-3) and high == pytest.approx(
        values.max(), rel=2e-3
    )
    fixed = run("deblur", tmp_path / "0.png", "-o", tmp_path / "fixed.png", "--psf", KERNEL)
    assert "snr auto" not in fixed.stderr
