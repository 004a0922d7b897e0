"""Image files in and out: OpenCV codecs, written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

__all__ = ["read_image", "write_image"]


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


def write_image(path, image: np.ndarray) -> None:
    """Encode ``image`` by the file's extension and write it atomically.

    The bytes go to a temporary file in the same folder, which is renamed
    over ``path`` only when complete: an interrupted write never leaves a
    half-written file at ``path``.
    """
    path = Path(path)
    ok, encoded = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise ValueError(f"OpenCV cannot encode an image of dtype {image.dtype} as {path.suffix}")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(encoded.tobytes())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
