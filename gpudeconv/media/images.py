"""Image files in and out: OpenCV codecs, written atomically."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path

import cv2
import numpy as np

__all__ = ["read_image", "write_image", "partial_file"]


def read_image(path) -> np.ndarray:
    """Read an image file as stored: grey, BGR or BGRA; 8 or 16 bit.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When OpenCV cannot decode it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    # imdecode of the bytes (not imread) so that non-ASCII paths work too.
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise ValueError(f"cannot read {path} as an image")
    return image


_U8, _U16, _F32 = np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32)
# What each encoder stores without conversion.
_DEPTHS = {
    **dict.fromkeys([".jpg", ".jpeg", ".jpe", ".webp", ".bmp", ".dib", ".ras", ".sr"], (_U8,)),
    **dict.fromkeys([".png", ".pgm", ".ppm", ".pnm", ".pxm", ".jp2"], (_U8, _U16)),
    **dict.fromkeys([".tif", ".tiff"], (_U8, _U16, _F32, np.dtype(np.float64))),
    **dict.fromkeys([".exr", ".hdr", ".pic"], (_F32,)),
}


def write_image(path, image: np.ndarray) -> None:
    """Encode ``image`` by the file's extension and write it atomically.

    The bytes go to a temporary file in the same folder, which is renamed
    over ``path`` only when complete: an interrupted write never leaves a
    half-written file at ``path``.
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
    ok, encoded = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise ValueError(f"OpenCV cannot encode an image of dtype {image.dtype} as {path.suffix}")
    with partial_file(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(encoded.tobytes())


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
