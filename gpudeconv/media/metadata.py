"""What a photo carries besides its pixels: EXIF orientation, ICC profile, EXIF.

Pillow parses and writes the metadata (no hand-written EXIF code); OpenCV
keeps decoding the pixels (it reads 16-bit colour, which Pillow does not).
A photo is restored as it is displayed, so the orientation is applied on read
and reset to "normal" in the EXIF written back.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass

import numpy as np

__all__ = ["Metadata", "read_metadata", "orient", "encode_with_metadata", "add_png_chunks"]

ORIENTATION = 0x0112  # the EXIF tag
#: The IFD0 tags kept: what describes the photo, not how its pixels are laid
#: out (a TIFF's IFD0 holds both; the writer sets the layout tags itself).
DESCRIPTIVE = (
    0x010E,  # ImageDescription
    0x010F,  # Make
    0x0110,  # Model
    0x011A,  # XResolution
    0x011B,  # YResolution
    0x0128,  # ResolutionUnit
    0x0131,  # Software
    0x0132,  # DateTime
    0x013B,  # Artist
    0x8298,  # Copyright
)
SUB_IFDS = (0x8769, 0x8825)  # the Exif and GPS sub-IFDs

#: Pillow's format name for each extension that can hold an ICC profile and EXIF.
FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".jpe": "JPEG",
    ".png": "PNG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
}


@dataclass(frozen=True)
class Metadata:
    """The metadata kept from an input file.

    Attributes
    ----------
    orientation : int
        The EXIF orientation of the file as stored (1 to 8; 1 is normal).
    icc_profile : bytes or None
        The embedded colour profile.
    exif : bytes or None
        The EXIF block with its orientation reset to 1 (the pixels returned by
        :func:`gpudeconv.media.images.read_photo` are already upright).
    """

    orientation: int = 1
    icc_profile: bytes | None = None
    exif: bytes | None = None

    def __bool__(self) -> bool:
        return bool(self.icc_profile or self.exif)


def read_metadata(path) -> Metadata:
    """The orientation, ICC profile and EXIF of the image file at ``path``.

    Files Pillow cannot open (OpenEXR, Radiance HDR...) have none: an empty
    :class:`Metadata`.
    """
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBombWarning: pixels are not decoded
            with Image.open(path) as im:
                icc = im.info.get("icc_profile") or None
                exif = _exif(im)
                orientation = int(exif.get(ORIENTATION, 1) or 1)
                kept = Image.Exif()
                for tag in DESCRIPTIVE:
                    if tag in exif:
                        kept[tag] = exif[tag]
                for tag in SUB_IFDS:
                    if tag in exif and exif.get_ifd(tag):
                        kept[tag] = dict(exif.get_ifd(tag))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return Metadata()
    if orientation not in range(1, 9):
        orientation = 1
    if len(kept):
        kept[ORIENTATION] = 1  # the pixels written are upright
    return Metadata(orientation, icc, kept.tobytes() if len(kept) else None)


def _exif(im):
    """``im``'s EXIF without decoding its pixels: Pillow's ``getexif`` decodes
    a whole PNG to look for an eXIf chunk after the pixels (as slow as reading
    the image again); one before them (where writers put it) is already read."""
    if im.format != "PNG":
        return im.getexif()
    from PIL import Image

    exif = Image.Exif()
    if im.info.get("exif"):
        exif.load(im.info["exif"])
    return exif


def orient(image: np.ndarray, orientation: int) -> np.ndarray:
    """``image`` (rows, cols[, channels]) as displayed for an EXIF orientation.

    The eight cases are Pillow's ``ImageOps.exif_transpose`` (the tests check
    each against it), done on the array so that 16-bit colour works too.
    """
    flip_rows, flip_cols, transpose = {
        1: (False, False, False),
        2: (False, True, False),
        3: (True, True, False),
        4: (True, False, False),
        5: (False, False, True),
        6: (True, False, True),
        7: (True, True, True),
        8: (False, True, True),
    }[orientation]
    if flip_rows:
        image = image[::-1]
    if flip_cols:
        image = image[:, ::-1]
    if transpose:
        image = image.swapaxes(0, 1)
    return np.ascontiguousarray(image)


def _pillow_image(image: np.ndarray):
    """A Pillow image of ``image`` (OpenCV's BGR order), or None when Pillow has
    no mode for it (16-bit colour)."""
    from PIL import Image

    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.dtype == np.uint16 and image.ndim == 2:
        return Image.fromarray(image)
    if image.dtype != np.uint8:
        return None
    if image.ndim == 3 and image.shape[2] in (3, 4):
        order = [2, 1, 0, 3][: image.shape[2]]
        image = np.ascontiguousarray(image[..., order])
    return Image.fromarray(image)


def encode_with_metadata(image: np.ndarray, suffix: str, metadata: Metadata) -> bytes | None:
    """``image`` encoded for ``suffix`` with ``metadata`` embedded, or None
    when this format or pixel type cannot hold it (the caller then encodes the
    pixels alone)."""
    fmt = FORMATS.get(suffix.lower())
    if fmt is None or not metadata:
        return None
    picture = _pillow_image(image)
    if picture is None or (fmt == "JPEG" and picture.mode not in ("L", "RGB")):
        return None
    extra = {}
    if metadata.icc_profile:
        extra["icc_profile"] = metadata.icc_profile
    if metadata.exif:
        extra["exif"] = metadata.exif
    if fmt == "JPEG":
        extra["quality"] = 95  # OpenCV's defaults: JPEG at 95, WebP lossless
    if fmt == "WEBP":
        extra["lossless"] = True
    # TIFF: Pillow's own writer, uncompressed: through libtiff (compressed)
    # the EXIF sub-IFD cannot be written.
    buffer = io.BytesIO()
    try:
        picture.save(buffer, format=fmt, **extra)
    except (ValueError, OSError):  # e.g. EXIF over JPEG's 64 KiB: the pixels matter more
        return None
    return buffer.getvalue()


def add_png_chunks(png: bytes, metadata: Metadata) -> bytes:
    """``png`` (a whole file) with the ICC profile (iCCP) and EXIF (eXIf)
    chunks inserted after its header: for the 16-bit colour images Pillow
    cannot write."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    chunks = b""
    if metadata.icc_profile:
        chunks += chunk(b"iCCP", b"icc\0\0" + zlib.compress(metadata.icc_profile))
    if metadata.exif:
        exif = metadata.exif
        if exif.startswith(b"Exif\0\0"):
            exif = exif[6:]  # PNG's eXIf holds the TIFF structure alone
        chunks += chunk(b"eXIf", exif)
    end_of_header = 8 + 8 + 13 + 4  # signature, IHDR length/type, IHDR data, CRC
    return png[:end_of_header] + chunks + png[end_of_header:]
