"""``gpudeconv deblur`` end to end, in a subprocess, on files made here."""

import functools

import cv2
import numpy as np
import pytest
from conftest import psnr, run_gpudeconv
from PIL import Image, ImageCms

import gpudeconv
from gpudeconv.commands.demo import builtin_image
from gpudeconv.media.metadata import orient

KERNEL = "motion:15:30"
run = run_gpudeconv


@pytest.fixture(scope="module")
def sharp():
    return builtin_image()[:200, :240]


@pytest.fixture(scope="module")
def blurred(sharp):
    return gpudeconv.blur(sharp, gpudeconv.psf.from_spec(KERNEL), channel_axis=-1)


def one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


# -- photos --------------------------------------------------------------------


@functools.cache
def srgb() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def test_a_phone_photo_is_restored_as_displayed_and_keeps_its_metadata(tmp_path, sharp):
    """A portrait JPEG stored sideways with EXIF Orientation=6: the PSF's angle
    is the one the user sees, the output is upright and keeps ICC and EXIF."""
    shown_sharp = builtin_image()[:240, :160]  # portrait, as the user sees it
    shown = gpudeconv.blur(shown_sharp, gpudeconv.psf.from_spec(KERNEL), channel_axis=-1)
    stored = np.ascontiguousarray(np.rot90(shown))  # how the phone stored it
    assert np.array_equal(orient(stored, 6), shown)
    exif = Image.Exif()
    exif[0x010F], exif[0x0112], exif[0x8769] = "PhoneCo", 6, {0x9003: "2024:05:01 10:20:30"}
    Image.fromarray(stored[..., ::-1]).save(
        tmp_path / "phone.jpg", quality=95, exif=exif.tobytes(), icc_profile=srgb()
    )
    result = run("deblur", tmp_path / "phone.jpg", "-o", tmp_path / "out.jpg", "--psf", KERNEL)
    assert result.returncode == 0, result.stderr
    restored = cv2.imread(str(tmp_path / "out.jpg"), cv2.IMREAD_UNCHANGED)  # as stored
    assert restored.shape == shown.shape  # upright: stored as displayed
    with Image.open(tmp_path / "out.jpg") as im:
        assert im.info["icc_profile"] == srgb()
        written = im.getexif()
    assert written[0x010F] == "PhoneCo" and written.get(0x0112, 1) == 1
    assert written.get_ifd(0x8769)[0x9003] == "2024:05:01 10:20:30"
    assert psnr(shown_sharp, restored) > psnr(shown_sharp, shown) + 3


def test_folder_mode_keeps_format_depth_channels_and_alpha(tmp_path, sharp, blurred):
    source = tmp_path / "in"
    source.mkdir()
    grey = cv2.cvtColor(blurred, cv2.COLOR_BGR2GRAY)
    alpha = np.linspace(0, 255, blurred.shape[1]).astype(np.uint8)[None, :].repeat(200, 0)
    images = {
        "rgb8.png": blurred,
        "grey8.png": grey,
        "rgb16.png": blurred.astype(np.uint16) * 257,
        "grey16.png": grey.astype(np.uint16) * 257,
        "alpha.png": np.dstack([blurred, alpha]),
        "rgb.tif": blurred,
        "photo.jpg": blurred,
    }
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


# -- files and folders -----------------------------------------------------------


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


def test_an_output_never_replaces_its_input(tmp_path, blurred):
    (tmp_path / "in").mkdir()
    cv2.imwrite(str(tmp_path / "in" / "a.png"), blurred)
    original = (tmp_path / "in" / "a.png").read_bytes()
    for source, target in [
        ("in/a.png", "in/a.png"),
        ("in/a.png", "in/../in/a.png"),
        ("in", "in"),
        ("in/*.png", "in/"),
    ]:
        result = run("deblur", source, "-o", target, "--psf", KERNEL, "--overwrite", cwd=tmp_path)
        assert result.returncode == 1 and "is the input itself" in one_line(result), source
    assert (tmp_path / "in" / "a.png").read_bytes() == original
    assert [p.name for p in (tmp_path / "in").iterdir()] == ["a.png"]


def test_recursive_keeps_the_structure_and_counts_what_it_left(tmp_path, blurred):
    shots = tmp_path / "shots"
    (shots / "day1" / "evening").mkdir(parents=True)
    for name in ("a.png", "day1/b.png", "day1/evening/c.png"):
        cv2.imwrite(str(shots / name), blurred)
    (shots / "notes.txt").write_text("not an image")
    (shots / "day1" / "raw.cr2").write_bytes(b"raw")
    flat = run("deblur", shots, "-o", tmp_path / "flat", "--psf", KERNEL)
    assert flat.returncode == 0, flat.stderr
    assert one_line(flat) == (
        "gpudeconv deblur: restored 1, 1 file(s) left alone (not images, or hidden), "
        "1 subfolder(s) not searched (--recursive does), failed 0"
    )
    deep = run("deblur", shots, "-o", tmp_path / "deep", "--psf", KERNEL, "--recursive")
    assert deep.returncode == 0, deep.stderr
    assert "restored 3, 2 file(s) left alone" in one_line(deep)
    written = sorted(
        p.relative_to(tmp_path / "deep").as_posix() for p in (tmp_path / "deep").rglob("*.png")
    )
    assert written == ["a.png", "day1/b.png", "day1/evening/c.png"]
    # Into a folder inside the input: the outputs are not taken as inputs next time.
    inside = run("deblur", shots, "-o", shots / "restored", "--psf", KERNEL, "-r")
    again = run("deblur", shots, "-o", shots / "restored", "--psf", KERNEL, "-r")
    assert inside.returncode == again.returncode == 0
    assert "restored 0, skipped 3 (output exists; --overwrite replaces)" in one_line(again)


def test_no_images_is_an_error(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.txt").write_text("hello")
    result = run("deblur", tmp_path / "docs", "-o", tmp_path / "out", "--psf", KERNEL)
    assert result.returncode == 1
    assert "no images found in" in one_line(result) and "left alone" in result.stderr
    assert not (tmp_path / "out").exists()
    nothing = run("deblur", tmp_path / "docs" / "*.png", "-o", tmp_path / "out", "--psf", KERNEL)
    assert nothing.returncode == 1 and "no file matches this pattern" in one_line(nothing)


def test_several_inputs_need_an_output_folder(tmp_path, blurred):
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(tmp_path / name), blurred)
    result = run("deblur", "a.png", "b.png", "-o", "name.png", "--psf", KERNEL, cwd=tmp_path)
    assert result.returncode == 1 and "output folder" in one_line(result)
    assert not (tmp_path / "name.png").exists()


def test_folder_mode_resumes_and_names_broken_files_once(tmp_path, blurred):
    source = tmp_path / "in"
    source.mkdir()
    for i in range(4):
        cv2.imwrite(str(source / f"f{i}.png"), np.roll(blurred, i, axis=1))
    (source / "broken.png").write_bytes(b"this is not a PNG")
    out = tmp_path / "out"
    first = run("deblur", source, "-o", out, "--psf", KERNEL, "--batch-size", "3")
    assert first.returncode == 1
    lines = first.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].count("broken.png") == 1, first.stderr
    assert "restored 4" in lines[1] and "Traceback" not in first.stderr
    assert sorted(p.name for p in out.iterdir()) == [f"f{i}.png" for i in range(4)]
    (out / "f2.png").unlink()  # as if the first run had been interrupted there
    second = run("deblur", source / "f*.png", "-o", out, "--psf", KERNEL)
    assert second.returncode == 0
    assert "restored 1, skipped 3" in second.stderr
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_codec_warnings_do_not_reach_the_terminal(tmp_path, blurred):
    from gpudeconv.media.metadata import Metadata, add_png_chunks

    (tmp_path / "in").mkdir()
    png = cv2.imencode(".png", blurred)[1].tobytes()
    (tmp_path / "in" / "a.png").write_bytes(add_png_chunks(png, Metadata(icc_profile=b"x")))
    result = run("deblur", tmp_path / "in", "-o", tmp_path / "out", "--psf", KERNEL)
    assert result.returncode == 0
    assert one_line(result) == "gpudeconv deblur: restored 1, failed 0"


# -- errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, message",
    [
        (["--method", "richardson_lucy", "--reg", "laplacian"], "--reg applies to --method wiener"),
        (["--method", "sparse", "--reg", "laplacian"], "--reg applies to --method wiener"),
        (["--border", "edgetaper", "--pad", "10"], "--pad applies to --border harmonic"),
        (["--border", "circular", "--pad", "3"], "--pad applies to --border harmonic"),
        (["--method", "richardson_lucy", "--snr", "50"], "--snr applies to --method wiener"),
        (["--method", "sparse", "--snr", "auto"], "--snr applies to --method wiener"),
        (["--iterations", "10"], "--iterations applies to --method richardson_lucy"),
        (["--method", "sparse", "--border", "edgetaper"], "not --border edgetaper"),
        (["--snr", "Auto"], "the word auto"),
        (["--snr", "0"], "positive number"),
        (["--backend", "tpu"], "--backend"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["--psf", "disk:1e6"], "largest PSF"),
        (["--psf", "motion:1e9:0"], "largest PSF"),
        (["--psf", "motion:abc"], "PSF"),
        (["--psf", "blob:3"], "PSF"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(tmp_path, blurred, options, message):
    cv2.imwrite(str(tmp_path / "a.png"), blurred)
    if "--psf" not in options:
        options = ["--psf", KERNEL, *options]
    result = run("deblur", "a.png", "-o", "b.png", *options, cwd=tmp_path)
    assert result.returncode == 2
    line = one_line(result)
    assert message in line and "usage:" not in result.stderr, line
    assert not (tmp_path / "b.png").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.png", "-o", "x.png", "--psf", KERNEL], "no such file"),
        (["broken.png", "-o", "x.png", "--psf", KERNEL], "cannot read"),
        (["a.png", "b.png", "-o", "a.png/sub", "--psf", KERNEL], "output folder"),
        (
            ["tiny.png", "-o", "x.png", "--psf", "motion:31:0"],
            "the 31x31 PSF is larger than the frame (20x20",
        ),
    ],
)
def test_user_errors_are_one_line_and_nonzero(tmp_path, blurred, args, message):
    cv2.imwrite(str(tmp_path / "a.png"), blurred)
    cv2.imwrite(str(tmp_path / "b.png"), blurred)
    cv2.imwrite(str(tmp_path / "tiny.png"), blurred[:20, :20])
    (tmp_path / "broken.png").write_bytes(b"garbage")
    before = set(tmp_path.iterdir())
    result = run("deblur", *args, cwd=tmp_path)
    assert result.returncode == 1
    assert message in one_line(result)
    assert set(tmp_path.iterdir()) == before  # a failed run leaves no output behind


def test_cupy_without_gpu_is_one_line(tmp_path, blurred):
    if "cupy" in gpudeconv.available_backends():
        pytest.skip("a GPU is usable here")
    cv2.imwrite(str(tmp_path / "a.png"), blurred)
    result = run(
        "deblur", "a.png", "-o", "x.png", "--psf", KERNEL, "--backend", "cupy", cwd=tmp_path
    )
    assert result.returncode == 1 and "CuPy is not usable" in one_line(result)
    assert "--backend numpy" in result.stderr and "backend='" not in result.stderr
    assert not (tmp_path / "x.png").exists()


def test_debug_shows_the_traceback(tmp_path):
    result = run("--debug", "deblur", "missing.png", "-o", "x.png", "--psf", KERNEL, cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_help_names_every_method_and_command():
    top = run("--help").stdout
    for name in ("wiener", "richardson_lucy", "sparse"):
        assert name in top, name
    for command in ("deblur", "video", "psf", "demo", "verify", "bench"):
        result = run(command, "--help")
        assert result.returncode == 0 and "usage: gpudeconv " + command in result.stdout
    assert "--recursive" in run("deblur", "--help").stdout


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
