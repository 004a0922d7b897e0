"""Image files in and out: OpenCV codecs for the pixels, Pillow for the
metadata (see :mod:`.metadata`), written atomically."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import threading
import uuid
from pathlib import Path

import cv2
import numpy as np

from .metadata import Metadata, add_png_chunks, encode_with_metadata, orient, read_metadata

__all__ = ["read_image", "read_photo", "write_image", "partial_file", "Metadata"]


_quiet = {"depth": 0, "saved": None}  # fd 2 as it was, while any thread is quiet
_quiet_lock = threading.Lock()


@contextlib.contextmanager
def quiet_codecs():
    """Silence what the codec libraries print on the process's stderr while
    the block runs (libpng's "iCCP: known incorrect sRGB profile", libtiff's
    unknown tags: once per file, and no log level reaches them). Failures
    still raise. Threads share fd 2: the first to enter redirects it, the
    last to leave restores it."""
    with _quiet_lock:
        if _quiet["depth"] == 0:
            try:
                sys.stderr.flush()
                saved = os.dup(2)
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, 2)
                os.close(null)
            except (OSError, ValueError):  # no usable fd 2 (embedded interpreters)
                saved = None
            _quiet["saved"] = saved
        _quiet["depth"] += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet["depth"] -= 1
            if _quiet["depth"] == 0 and _quiet["saved"] is not None:
                os.dup2(_quiet["saved"], 2)
                os.close(_quiet["saved"])
                _quiet["saved"] = None


def read_image(path) -> np.ndarray:
    """Read an image file as displayed (EXIF orientation applied): grey, BGR
    or BGRA; 8 or 16 bit.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When OpenCV cannot decode it.
    """
    return read_photo(path)[0]


def read_photo(path) -> tuple[np.ndarray, Metadata]:
    """(the image as displayed, its metadata): :func:`read_image` plus what
    :func:`write_image` needs to keep the ICC profile and EXIF."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    # imdecode of the bytes (not imread) so that non-ASCII paths work too;
    # IMREAD_UNCHANGED keeps alpha and 16 bit, and ignores the orientation.
    data = np.fromfile(path, dtype=np.uint8)
    with quiet_codecs():
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise ValueError(f"cannot read {path} as an image")
    metadata = read_metadata(path)
    return orient(image, metadata.orientation), metadata


_U8, _U16, _F32 = np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32)
# What each encoder stores without conversion.
_DEPTHS = {
    **dict.fromkeys([".jpg", ".jpeg", ".jpe", ".webp", ".bmp", ".dib", ".ras", ".sr"], (_U8,)),
    **dict.fromkeys([".png", ".pgm", ".ppm", ".pnm", ".pxm", ".jp2"], (_U8, _U16)),
    **dict.fromkeys([".tif", ".tiff"], (_U8, _U16, _F32, np.dtype(np.float64))),
    **dict.fromkeys([".exr", ".hdr", ".pic"], (_F32,)),
}


def write_image(path, image: np.ndarray, metadata: Metadata | None = None) -> None:
    """Encode ``image`` by the file's extension and write it atomically.

    ``metadata`` (from :func:`read_photo`): its ICC profile and EXIF are
    embedded where the format holds them (JPEG, PNG, TIFF, WebP; not 16-bit
    colour TIFF or WebP). The bytes go to a temporary file in the same folder,
    which is renamed over ``path`` only when complete: an interrupted write
    never leaves a half-written file at ``path``.
    """
    path = Path(path)
    depths = _DEPTHS.get(path.suffix.lower())
    if depths is not None and image.dtype not in depths:
        # OpenCV would silently convert (16-bit to 8 saturates, floats become
        # 0 and 1): refuse instead.
        names = " or ".join(np.dtype(d).name for d in depths)
        raise ValueError(
            f"cannot write a {image.dtype} image as {path.suffix}: that format holds "
            f"{names} only; use .png or .tif for 16 bit, .tif for floating point"
        )
    encoded = encode_with_metadata(image, path.suffix, metadata) if metadata else None
    if encoded is None:
        with quiet_codecs():
            ok, pixels = cv2.imencode(path.suffix or ".png", image)
        if not ok:
            raise ValueError(
                f"OpenCV cannot encode an image of dtype {image.dtype} as {path.suffix}"
            )
        encoded = pixels.tobytes()
        if metadata and path.suffix.lower() == ".png":
            encoded = add_png_chunks(encoded, metadata)
    with partial_file(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(encoded)


@contextlib.contextmanager
def partial_file(path: Path):
    """A fresh temporary path beside ``path``, renamed over ``path`` when the
    block succeeds and deleted when it fails.

    The name keeps ``path``'s extension (video writers choose the container
    from it) and starts with a dot; the file gets the permissions a new file
    would get (umask honoured, unlike ``mkstemp``'s 0600).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:12]}.part{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():  # a zarr store is a folder
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


#: Where a PSF picture records its enlargement (a PNG text chunk, or the TIFF
#: ImageDescription), so that reading it back gives the kernel, not the picture.
PSF_SCALE_KEY = "gpudeconv-psf-scale"
PSF_PICTURE_SUFFIXES = (".png", ".tif", ".tiff")


def write_psf_picture(path, kernel: np.ndarray, scale: int) -> None:
    """Write ``kernel`` as a 16-bit grey picture scaled to its peak, each
    kernel pixel a ``scale`` x ``scale`` block, with ``scale`` recorded in the
    file: :func:`read_psf_picture` gives the kernel back (to 1/65535 of its
    peak)."""
    from PIL import Image, PngImagePlugin

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in PSF_PICTURE_SUFFIXES:
        raise ValueError(
            f"a PSF is written as .npy (the exact array) or as a .png or .tif picture, "
            f"got {path.name}"
        )
    levels = np.rint(np.clip(kernel / kernel.max(), 0, 1) * 65535).astype(np.uint16)
    picture = Image.fromarray(np.kron(levels, np.ones((scale, scale), np.uint16)))
    if suffix == ".png":
        info = PngImagePlugin.PngInfo()
        info.add_text(PSF_SCALE_KEY, str(scale))
        extra = {"format": "PNG", "pnginfo": info}
    else:
        extra = {"format": "TIFF", "description": f"{PSF_SCALE_KEY}={scale}"}
    with partial_file(path) as tmp:
        picture.save(tmp, **extra)


def read_psf_picture(path) -> np.ndarray:
    """A PSF from an image file: grey (colour is averaged), and shrunk back
    by the scale :func:`write_psf_picture` recorded, if any."""
    from PIL import Image

    kernel = read_image(path)
    if kernel.ndim == 3:
        kernel = kernel[..., :3].mean(axis=-1)
    try:
        with Image.open(path) as im:
            text = im.info.get(PSF_SCALE_KEY) or ""
            description = str(getattr(im, "tag_v2", {}).get(270, ""))
    except (OSError, ValueError, SyntaxError):
        return kernel
    if description.startswith(f"{PSF_SCALE_KEY}="):
        text = description.partition("=")[2]
    scale = int(text) if text.strip().isdigit() else 1
    rows, cols = kernel.shape
    if scale > 1 and rows % scale == 0 and cols % scale == 0:
        blocks = kernel.reshape(rows // scale, scale, cols // scale, scale)
        kernel = blocks.mean(axis=(1, 3), dtype=np.float64)
    return kernel
