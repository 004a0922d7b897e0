"""What ``gpudeconv tune`` computes: settings from the page, the input's
frames, view-sized previews, the PSF picture and the equivalent command.

The page sends its settings as query parameters; :class:`Settings` turns them
into one canonical form (numbers rounded to what the sliders can show) from
which both the preview and the printed command are made, so that what the
page shows is what the command does.
"""

from __future__ import annotations

import math
import shlex
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .. import psf as psfs
from ..deconvolve import METHODS, make_deconvolver
from ..media.folders import IMAGE_SUFFIXES
from ..media.images import read_image
from ..media.video_write import CODEC_SUFFIXES

KINDS = ("motion", "gaussian", "disk", "file")
BORDERS = ("reflect", "edgetaper", "circular")
# Lossy or 8-bit-only formats: a saved result goes to PNG instead.
_LOSSY = {".jpg", ".jpeg", ".jpe", ".webp", ".jp2"}
# (low, high) of each number the page sends: the sliders' ranges.
RANGES = {
    "length": (1.0, 301.0),
    "angle": (-360.0, 360.0),
    "sigma": (0.1, 50.0),
    "radius": (0.5, 100.0),
    "snr": (0.1, 1e8),  # 3 significant digits then fit in 3 decimals
}


def number(value: float) -> str:
    """``value`` as the command line gets it: 3 decimals at most, no exponent."""
    return np.format_float_positional(round(float(value), 3), trim="-")


@dataclass(frozen=True)
class Settings:
    """One set of restoration settings, canonical (rounded as shown)."""

    kind: str = "motion"
    length: float = 15.0
    angle: float = 0.0
    sigma: float = 2.0
    radius: float = 3.0
    method: str = "wiener"
    snr: float | str = 100.0
    border: str = "reflect"
    frame: int = 0

    @classmethod
    def from_query(cls, query: dict, *, frames: int = 1, psf_file: str | None = None):
        """Parse the page's query (``{name: text}``); bad values raise ValueError."""
        values = {}
        for name in ("kind", "method", "border"):
            if name in query:
                values[name] = query[name]
        for name, (low, high) in RANGES.items():
            if name in query and not (name == "snr" and query[name] == "auto"):
                try:
                    value = float(query[name])
                except ValueError:
                    raise ValueError(f"{name} must be a number, got {query[name]!r}") from None
                if not low <= value <= high:
                    raise ValueError(f"{name} must be in [{low:g}, {high:g}], got {value:g}")
                digits = 3 if name == "snr" else None
                values[name] = float(f"{value:.{digits}g}") if digits else float(number(value))
        if query.get("snr") == "auto":
            values["snr"] = "auto"
        if "frame" in query:
            try:
                values["frame"] = int(query["frame"])
            except ValueError:
                raise ValueError(f"frame must be an integer, got {query['frame']!r}") from None
        settings = cls(**values)
        settings.check(frames, psf_file)
        return settings

    def check(self, frames: int, psf_file: str | None) -> None:
        if self.kind not in KINDS or (self.kind == "file" and psf_file is None):
            raise ValueError(f"kind must be motion, gaussian or disk (or file), got {self.kind!r}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.border not in BORDERS:
            raise ValueError(f"border must be one of {', '.join(BORDERS)}, got {self.border!r}")
        if not 0 <= self.frame < frames:
            raise ValueError(f"frame must be in [0, {frames - 1}], got {self.frame}")

    def spec(self, psf_file: str | None = None) -> str:
        """The ``--psf`` argument."""
        if self.kind == "motion":
            return f"motion:{number(self.length)}:{number(self.angle)}"
        if self.kind == "gaussian":
            return f"gaussian:{number(self.sigma)}"
        if self.kind == "disk":
            return f"disk:{number(self.radius)}"
        return str(psf_file)

    def psf(self, psf_file: str | None = None, scale: float = 1.0) -> np.ndarray:
        """The PSF at full resolution, or for the picture resized by ``scale``."""
        kernel = psfs.from_spec(self.spec(psf_file))
        return kernel if scale == 1.0 else shrink(kernel, scale)

    def options(self) -> list[str]:
        """The command line's restoration options (without ``--psf``)."""
        argv = [] if self.method == "wiener" else ["--method", self.method]
        if self.method == "wiener":
            argv += ["--snr", self.snr if self.snr == "auto" else number(self.snr)]
        if self.border != "reflect":
            argv += ["--border", self.border]
        return argv

    def restorer(self, kernel: np.ndarray, channel_axis, backend: str):
        """A new filter per call: filter objects are not shared between threads."""
        options = dict(border=self.border, channel_axis=channel_axis, backend=backend)
        if self.method == "wiener":
            options["snr"] = self.snr
        return make_deconvolver(kernel, self.method, **options)


def _area_weights(size: int, scale: float) -> np.ndarray:
    """How much of each of ``size`` pixels falls in each pixel after resizing by
    ``scale``, both grids centred on the PSF's centre pixel (odd output)."""
    centre = size // 2
    half = math.ceil((centre + 0.5) * scale - 0.5)
    inside, outside = np.arange(size)[None, :] - centre, np.arange(2 * half + 1)[:, None] - half
    low = np.maximum((inside - 0.5) * scale, outside - 0.5)
    high = np.minimum((inside + 0.5) * scale, outside + 0.5)
    return np.clip(high - low, 0, None)


def shrink(kernel: np.ndarray, scale: float) -> np.ndarray:
    """The PSF of a picture downscaled by ``scale`` (area averaging, as
    ``cv2.INTER_AREA`` shrinks the picture), its centre kept in place.

    Shrinking the full-resolution kernel models the downscaled blur better
    than a kernel drawn at the smaller size (1-3 dB in the preview).
    """
    rows, cols = (_area_weights(n, scale) for n in kernel.shape)
    return psfs.normalize(rows @ kernel @ cols.T)


def read_video_frame(path, index: int) -> np.ndarray:
    """Frame ``index`` of a video (BGR uint8), seeking by frame number."""
    capture = cv2.VideoCapture(str(path))
    try:
        if index:
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = capture.read()
    finally:
        capture.release()
    if not ok or frame is None:
        raise ValueError(f"cannot read frame {index} of {path}")
    return frame


def video_frame_count(path) -> int:
    capture = cv2.VideoCapture(str(path))
    try:
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    finally:
        capture.release()
    return count


class Source:
    """The one input: a photo, or a video read a frame at a time (cached)."""

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no such file: {self.path}")
        self.is_video = self.path.suffix.lower() not in IMAGE_SUFFIXES
        self._lock = threading.Lock()
        self._cache: OrderedDict = OrderedDict()
        if self.is_video:
            self.frames = video_frame_count(self.path)
            if self.frames < 1:
                raise ValueError(f"cannot read {self.path} as an image or a video")
            read_video_frame(self.path, 0)
        else:
            self.frames = 1
            self._remember(("frame", 0), read_image(self.path))

    def _remember(self, key, value, size: int = 8):
        with self._lock:
            self._cache[key] = value
            self._cache.move_to_end(key)
            while len(self._cache) > size:
                self._cache.popitem(last=False)
        return value

    def _recall(self, key):
        with self._lock:
            return self._cache.get(key)

    def frame(self, index: int) -> np.ndarray:
        """The colour (or grey) pixels of frame ``index``; alpha is left out."""
        image = self._recall(("frame", index))
        if image is None:
            image = self._remember(("frame", index), read_video_frame(self.path, index))
        return image[..., :3] if image.ndim == 3 and image.shape[2] == 4 else image

    def view(self, index: int, box: tuple[int, int], centre=None, margin: int = 0):
        """The part of frame ``index`` the page shows in a ``box`` (rows, cols).

        Without ``centre``: the whole frame downscaled to fit (never enlarged);
        returns ``(pixels, scale, 0)``. With ``centre`` (row, column fractions):
        the 1:1 crop around it, widened by ``margin`` pixels where the frame
        allows; returns ``(pixels, 1.0, (top, left))`` of the crop inside.
        """
        key = ("view", index, box, centre, margin)
        found = self._recall(key)
        if found is not None:
            return found
        image = self.frame(index)
        rows, cols = image.shape[:2]
        if centre is None:
            scale = min(1.0, box[0] / rows, box[1] / cols)
            if scale < 1.0:
                size = (max(1, round(cols * scale)), max(1, round(rows * scale)))
                image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            return self._remember(key, (image, scale, (0, 0)))
        top, left = _crop_start(rows, box[0], centre[0]), _crop_start(cols, box[1], centre[1])
        r0, c0 = max(0, top - margin), max(0, left - margin)
        r1 = min(rows, top + box[0] + margin)
        c1 = min(cols, left + box[1] + margin)
        crop = image[r0:r1, c0:c1]
        return self._remember(key, (crop, 1.0, (top - r0, left - c0)))


def _crop_start(size: int, box: int, fraction: float) -> int:
    return int(min(max(round(fraction * size - box / 2), 0), max(size - box, 0)))


def restored_view(source, settings, box, centre, psf_file, backend):
    """The restored preview: the view restored with the PSF at the view's scale.

    A 1:1 crop is restored with a margin around it (cut off after) so that its
    pixels are close to the full-frame result's: a Wiener filter's inverse
    reaches far beyond the PSF (at snr 300 a margin of 2 PSF lengths leaves a
    mean error of 6 grey levels, 12 lengths 2.4 on a 320x240 photo).
    """
    kernel = settings.psf(psf_file)
    margin = max(64, 12 * max(kernel.shape)) if centre is not None else 0
    pixels, scale, (top, left) = source.view(settings.frame, box, centre, margin)
    if scale != 1.0:
        kernel = settings.psf(psf_file, scale)
    axis = -1 if pixels.ndim == 3 else None
    restored = settings.restorer(kernel, axis, backend)(pixels)
    if centre is not None:
        restored = restored[top : top + box[0], left : left + box[1]]
    return restored


def displayable(image: np.ndarray) -> np.ndarray:
    """8-bit pixels for the browser (16-bit and float images scaled)."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return (image >> 8).astype(np.uint8)
    top = 1.0 if image.dtype.kind == "f" and float(np.nanmax(image)) <= 1.5 else 255.0
    return np.clip(np.nan_to_num(image) * (255.0 / top), 0, 255).round().astype(np.uint8)


def encode(image: np.ndarray, fmt: str = "jpeg") -> bytes:
    """``image`` as JPEG (previews: fast, small) or PNG (exact)."""
    if fmt == "png":
        extension, params = ".png", [cv2.IMWRITE_PNG_COMPRESSION, 1]
    else:
        extension, params = ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 90]
    ok, data = cv2.imencode(extension, displayable(image), params)
    if not ok:
        raise ValueError(f"cannot encode a preview of shape {image.shape}")
    return data.tobytes()


def psf_picture(kernel: np.ndarray, side: int = 160) -> bytes:
    """The PSF scaled to its peak, each of its pixels a visible square."""
    scale = max(1, side // max(kernel.shape))
    picture = np.rint(np.clip(kernel / kernel.max(), 0, 1) * 255).astype(np.uint8)
    return encode(np.kron(picture, np.ones((scale, scale), np.uint8)), "png")


def output_path(source: Source, number_: int = 1) -> Path:
    """Where Save writes: beside the input, ``NAME.restored[-N].EXT``, a name
    not taken yet (lossy formats become PNG, unknown video containers MP4)."""
    suffix = source.path.suffix.lower()
    if source.is_video:
        suffix = suffix if suffix in CODEC_SUFFIXES else ".mp4"
    elif suffix in _LOSSY:
        suffix = ".png"
    while True:
        tag = "" if number_ == 1 else f"-{number_}"
        path = source.path.with_name(f"{source.path.stem}.restored{tag}{suffix}")
        if not path.exists():
            return path
        number_ += 1


def command_argv(source: Source, settings: Settings, output, psf_file=None, backend="auto"):
    """The ``gpudeconv`` arguments that restore the whole input as the page shows."""
    if source.is_video:
        argv = ["video", str(source.path), str(output)]
    else:
        argv = ["deblur", str(source.path), "-o", str(output)]
    argv += ["--psf", settings.spec(psf_file), *settings.options()]
    if backend != "auto":
        argv += ["--backend", backend]
    return argv


def command_line(argv: list[str]) -> str:
    return shlex.join(["gpudeconv", *argv])
