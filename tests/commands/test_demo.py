import subprocess
import sys

import cv2
import numpy as np

from gpudeconv.commands.demo import builtin_image, run_demo


def test_builtin_image_is_colour_uint8():
    image = builtin_image()
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


def test_run_demo_writes_images_and_improves_psnr(tmp_path):
    lines = []
    figures = run_demo(tmp_path / "out", backend="numpy", log=lines.append)
    assert figures["psnr_restored"] > figures["psnr_blurred"] + 2
    for name in ("original", "blurred", "restored", "side_by_side"):
        image = cv2.imread(str(tmp_path / "out" / f"{name}.png"))
        assert image is not None and image.dtype == np.uint8
    assert any("PSNR" in line for line in lines)
    assert not list((tmp_path / "out").glob("*.part"))


def test_demo_command(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gpudeconv",
            "demo",
            "-o",
            str(tmp_path / "d"),
            "--backend",
            "numpy",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "backend: numpy" in result.stdout and "dB" in result.stdout
    assert (tmp_path / "d" / "restored.png").is_file()
