"""A few frames spread over a video, for measuring it (not for restoring it)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

__all__ = ["sample_video_frames"]


def sample_video_frames(path, count: int = 9) -> np.ndarray:
    """Up to ``count`` frames spread evenly over the video at ``path``, first
    and last included, as one (n, rows, cols, 3) BGR uint8 array.

    Seeks when the container reports its length; otherwise reads through and
    keeps every k-th frame of the first ``64 * count``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such video file: {path}")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise ValueError(f"cannot open {path} as a video")
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        frames = []
        if total > 0:
            for index in sorted({int(i) for i in np.linspace(0, total - 1, count).round()}):
                capture.set(cv2.CAP_PROP_POS_FRAMES, index)
                ok, frame = capture.read()
                if ok:
                    frames.append(frame)
        if not frames:  # no length, or seeking failed: read through
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            every = 64
            for index in range(every * count):
                ok, frame = capture.read()
                if not ok:
                    break
                if index % every == 0:
                    frames.append(frame)
    finally:
        capture.release()
    if not frames:
        raise ValueError(f"{path} holds no frame that can be decoded")
    return np.stack(frames)
