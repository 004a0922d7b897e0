"""``gpudeconv psf``: what it writes comes back through ``--psf FILE`` as the
same kernel."""

import cv2
import numpy as np
import pytest
from conftest import psnr, run_gpudeconv

import gpudeconv
from gpudeconv.commands.demo import builtin_image

run = run_gpudeconv


def test_npy_is_the_exact_array(tmp_path):
    result = run("psf", "motion:21:30", "-o", tmp_path / "k.npy")
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "k.npy"), gpudeconv.psf.motion(21, 30))


@pytest.mark.parametrize("name", ["k.png", "k.tif"])
def test_a_picture_at_the_default_scale_comes_back_as_the_kernel(tmp_path, name):
    spec = "motion:21:30"
    result = run("psf", spec, "-o", tmp_path / name)
    assert result.returncode == 0, result.stderr
    assert "at 13x" in result.stdout  # 21 px enlarged to fit 256
    picture = cv2.imread(str(tmp_path / name), cv2.IMREAD_UNCHANGED)
    assert picture.shape == (273, 273) and picture.dtype == np.uint16
    kernel, back = gpudeconv.psf.from_spec(spec), gpudeconv.psf.from_spec(str(tmp_path / name))
    assert back.shape == kernel.shape
    np.testing.assert_allclose(back, kernel, rtol=0, atol=kernel.max() / 65535)


def test_deblurring_with_the_written_picture_is_deblurring_with_the_spec(tmp_path):
    spec = "motion:21:30"
    sharp = builtin_image()[:160, :200]
    cv2.imwrite(
        str(tmp_path / "a.png"),
        gpudeconv.blur(sharp, gpudeconv.psf.from_spec(spec), channel_axis=-1),
    )
    assert run("psf", spec, "-o", tmp_path / "k.png").returncode == 0
    for psf, out in ((spec, "by_spec.png"), (tmp_path / "k.png", "by_file.png")):
        result = run("deblur", tmp_path / "a.png", "-o", tmp_path / out, "--psf", psf)
        assert result.returncode == 0, result.stderr
    by_spec, by_file = (cv2.imread(str(tmp_path / n)) for n in ("by_spec.png", "by_file.png"))
    assert np.abs(by_spec.astype(int) - by_file).max() <= 1
    assert psnr(sharp, by_file) > psnr(sharp, cv2.imread(str(tmp_path / "a.png"))) + 2


def test_scale_and_viewable_blocks(tmp_path):
    np.save(tmp_path / "k.npy", np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], float))
    result = run("psf", tmp_path / "k.npy", "-o", tmp_path / "k.png", "--scale", "10")
    assert result.returncode == 0, result.stderr
    image = cv2.imread(str(tmp_path / "k.png"), cv2.IMREAD_UNCHANGED)
    assert image.shape == (30, 30) and image.max() == 65535 and image[0, 0] == 0
    assert (image[10:20, 10:20] == 65535).all() and (image[0:10, 10:20] == 16384).all()
    back = gpudeconv.psf.from_spec(str(tmp_path / "k.png"))
    np.testing.assert_allclose(back, np.load(tmp_path / "k.npy") / 8, atol=1e-5)


def test_a_plain_image_is_still_a_psf_pixel_for_pixel(tmp_path):
    cv2.imwrite(
        str(tmp_path / "drawn.png"),
        np.kron(np.eye(3, dtype=np.uint8) * 255, np.ones((2, 2), np.uint8)),
    )
    assert gpudeconv.psf.from_spec(str(tmp_path / "drawn.png")).shape == (6, 6)


@pytest.mark.parametrize(
    "args, status, message",
    [
        (["motion:9:0", "-o", "k.jpg"], 1, ".npy (the exact array) or as a .png or .tif"),
        (["motion:9:0", "-o", "k.npy", "--scale", "4"], 1, "--scale applies to pictures"),
        (["gaussian:-2", "-o", "k.png"], 2, "sigma"),
        (["disk:1e6", "-o", "k.png"], 2, "largest PSF is 4096"),
        (["motion:1e9:0", "-o", "k.npy"], 2, "largest PSF is 4096"),
    ],
)
def test_psf_errors_are_one_line(tmp_path, args, status, message):
    result = run("psf", *args, cwd=tmp_path)
    assert result.returncode == status
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert list(tmp_path.iterdir()) == []
