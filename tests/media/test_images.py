"""Image files: orientation, ICC profile and EXIF, atomic writes, quiet codecs."""

import functools
import io
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from gpudeconv.media.images import partial_file, read_image, read_photo, write_image
from gpudeconv.media.metadata import Metadata, orient

ROOT = Path(__file__).resolve().parents[2]
MAKE, MODEL, DATE_TAKEN, EXIF_IFD = 0x010F, 0x0110, 0x9003, 0x8769


@functools.cache
def srgb_profile() -> bytes:
    """An sRGB profile (made once: its header holds the time it was made)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def camera_exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[MAKE], exif[MODEL], exif[0x0112] = "PhoneCo", "Model 7", orientation
    exif[EXIF_IFD] = {DATE_TAKEN: "2024:05:01 10:20:30"}
    return exif


def save_photo(path, rgb: np.ndarray, orientation: int = 1, **options) -> None:
    """What a camera writes: pixels as stored, EXIF orientation, sRGB profile."""
    exif = camera_exif(orientation).tobytes()
    Image.fromarray(rgb).save(path, exif=exif, icc_profile=srgb_profile(), **options)


@pytest.fixture(scope="module")
def rgb():
    """A non-square RGB picture with structure, so any flip or turn shows."""
    rows, cols = np.mgrid[0:48, 0:80]
    return np.dstack([rows * 5, cols * 3, (rows * cols) % 251]).astype(np.uint8)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orient_is_pillows_exif_transpose(rgb, orientation):
    picture = Image.fromarray(rgb)
    picture.getexif()[0x0112] = orientation
    expected = np.asarray(ImageOps.exif_transpose(picture))
    np.testing.assert_array_equal(orient(rgb, orientation), expected)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_photos_are_read_as_displayed_with_their_metadata(tmp_path, rgb, orientation):
    path = tmp_path / "phone.png"
    save_photo(path, rgb, orientation)
    image, metadata = read_photo(path)
    with Image.open(path) as im:
        displayed = np.asarray(ImageOps.exif_transpose(im))
    np.testing.assert_array_equal(image, displayed[..., ::-1])  # OpenCV's BGR order
    assert metadata.orientation == orientation
    assert metadata.icc_profile == srgb_profile()
    np.testing.assert_array_equal(read_image(path), image)


@pytest.mark.parametrize(
    "name, make",
    [
        ("out.jpg", lambda rgb: rgb[..., ::-1]),
        ("out.png", lambda rgb: rgb[..., ::-1]),
        ("out.tif", lambda rgb: rgb[..., ::-1]),
        ("out.webp", lambda rgb: rgb[..., ::-1]),
        ("grey.png", lambda rgb: rgb[..., 0]),
        ("grey16.png", lambda rgb: rgb[..., 0].astype(np.uint16) * 257),
        ("colour16.png", lambda rgb: rgb[..., ::-1].astype(np.uint16) * 257),
        ("alpha.png", lambda rgb: np.dstack([rgb[..., ::-1], rgb[..., 1]])),
    ],
)
def test_written_files_keep_icc_and_exif_with_orientation_normal(tmp_path, rgb, name, make):
    source = tmp_path / "in.jpg"
    save_photo(source, rgb, orientation=6, quality=95)
    _, metadata = read_photo(source)
    image = make(orient(rgb, 6))
    write_image(tmp_path / name, image, metadata)
    back = cv2.imread(str(tmp_path / name), cv2.IMREAD_UNCHANGED)
    assert back.shape == image.shape and back.dtype == image.dtype
    if name.endswith((".jpg", ".webp")):  # lossy: as close as OpenCV's own encoding
        opencv = cv2.imdecode(cv2.imencode(Path(name).suffix, image)[1], cv2.IMREAD_UNCHANGED)
        error, opencv_error = (np.abs(a.astype(float) - image).mean() for a in (back, opencv))
        assert error < 1.5 * opencv_error + 0.5, (error, opencv_error)
    else:
        np.testing.assert_array_equal(back, image)
    with Image.open(tmp_path / name) as im:
        assert im.info.get("icc_profile") == srgb_profile()
        exif = im.getexif()
        assert exif[MAKE] == "PhoneCo" and exif[MODEL] == "Model 7"
        assert exif.get(0x0112, 1) == 1  # the pixels are upright now
        assert exif.get_ifd(EXIF_IFD)[DATE_TAKEN] == "2024:05:01 10:20:30"


def test_files_without_metadata_are_written_as_before(tmp_path, rgb):
    bgr = rgb[..., ::-1]
    write_image(tmp_path / "a.png", bgr, Metadata())
    ok, expected = cv2.imencode(".png", bgr)
    assert (tmp_path / "a.png").read_bytes() == expected.tobytes()


def test_tiff_layout_tags_are_not_copied(tmp_path, rgb):
    # A TIFF's first IFD holds its layout (sample format, strips...) beside
    # the description: only the description may travel to the output.
    source = tmp_path / "float.tif"
    assert cv2.imwrite(str(source), rgb.astype(np.float32))
    _, metadata = read_photo(source)
    write_image(tmp_path / "out.tif", rgb[..., ::-1], metadata)
    np.testing.assert_array_equal(read_image(tmp_path / "out.tif"), rgb[..., ::-1])


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


def noisy_png(path) -> None:
    """A valid PNG whose colour profile libpng warns about (too short)."""
    from gpudeconv.media.metadata import add_png_chunks

    ok, encoded = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))
    path.write_bytes(add_png_chunks(encoded.tobytes(), Metadata(icc_profile=b"short")))


def test_codec_warnings_are_silenced(tmp_path):
    noisy_png(tmp_path / "a.png")
    plain = subprocess.run(
        [sys.executable, "-c", "import cv2, sys; cv2.imread(sys.argv[1])", tmp_path / "a.png"],
        capture_output=True,
        text=True,
    )
    assert "libpng" in plain.stderr  # what a user would see without the silencing
    ours = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from gpudeconv.media.images import read_image; "
            "print(read_image(sys.argv[1]).shape)",
            tmp_path / "a.png",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert ours.returncode == 0 and ours.stdout.strip() == "(8, 8, 3)"
    assert ours.stderr == ""


def test_pillow_reads_what_we_wrote_for_16_bit_colour(tmp_path):
    # 16-bit colour PNG: OpenCV encodes the pixels, the chunks are added; the
    # file must still be a valid PNG for every reader.
    image = np.arange(4 * 6 * 3, dtype=np.uint16).reshape(4, 6, 3) * 1000
    write_image(tmp_path / "a.png", image, Metadata(exif=camera_exif(1).tobytes()))
    with Image.open(tmp_path / "a.png") as im:
        im.load()
        assert im.size == (6, 4) and im.getexif()[MAKE] == "PhoneCo"
    assert io.BytesIO((tmp_path / "a.png").read_bytes()).read(8) == b"\x89PNG\r\n\x1a\n"


def test_quiet_codecs_from_many_threads_gives_stderr_back(tmp_path):
    # Threads enter and leave in any order; afterwards fd 2 must be the
    # original stderr again.
    code = (
        "import os, sys, threading\n"
        "from gpudeconv.media.images import read_image\n"
        "ts = [threading.Thread(target=lambda: [read_image(sys.argv[1]) for _ in range(20)])"
        " for _ in range(4)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "os.write(2, b'still here')\n"
    )
    noisy_png(tmp_path / "a.png")
    result = subprocess.run(
        [sys.executable, "-c", code, tmp_path / "a.png"], capture_output=True, cwd=ROOT
    )
    assert result.returncode == 0 and result.stderr == b"still here"


def test_metadata_a_format_cannot_hold_does_not_cost_the_picture(tmp_path, rgb):
    # JPEG holds at most 64 KiB of EXIF: the image is written without it.
    exif = Image.Exif()
    exif[0x010E] = "x" * 70_000  # ImageDescription
    write_image(tmp_path / "a.jpg", rgb[..., ::-1], Metadata(exif=exif.tobytes()))
    assert read_image(tmp_path / "a.jpg").shape == rgb.shape
