"""One estimate from many frames: sample them, then combine robustly."""

from __future__ import annotations

import numpy as np

from .result import PSFEstimate

__all__ = ["MAX_FRAMES", "combine", "sample_frames"]

#: Frames measured in a stack or video, spread over its length.
MAX_FRAMES = 9


def sample_frames(count: int, at_most: int = MAX_FRAMES) -> list[int]:
    """Indices of up to ``at_most`` frames spread evenly over ``count``
    (first and last included)."""
    if count < 1:
        raise ValueError(f"the stack must hold at least one frame, got {count}")
    return sorted({int(i) for i in np.linspace(0, count - 1, min(count, at_most)).round()})


def _median_angle(angles: np.ndarray) -> float:
    """Median of angles modulo 180 degrees, taken around their circular mean."""
    doubled = np.deg2rad(2 * angles)
    centre = np.rad2deg(np.arctan2(np.sin(doubled).mean(), np.cos(doubled).mean())) / 2
    offsets = (angles - centre + 90) % 180 - 90
    return float((centre + np.median(offsets)) % 180)


def _mad(values: np.ndarray, centre: float, period: float | None = None) -> float:
    offsets = values - centre
    if period:
        offsets = (offsets + period / 2) % period - period / 2
    return float(np.median(np.abs(offsets)))


def combine(estimates: list[PSFEstimate]) -> PSFEstimate:
    """The kind with the most confidence summed over the frames, the median of
    its frames' parameters, the median confidence scaled by the share of
    frames that agree, and the parameters' median absolute deviations."""
    votes: dict[str, float] = {}
    for e in estimates:
        votes[e.kind] = votes.get(e.kind, 0.0) + max(e.confidence, 1e-3)
    kind = max(votes, key=votes.get)
    agree = [e for e in estimates if e.kind == kind]
    params, spread = {}, {}
    for name in agree[0].params:
        values = np.array([e.params[name] for e in agree])
        if name == "angle":
            params[name] = _median_angle(values)
            spread[name] = _mad(values, params[name], 180.0)
        else:
            params[name] = float(np.median(values))
            spread[name] = _mad(values, params[name])
    share = len(agree) / len(estimates)
    confidence = float(np.median([e.confidence for e in agree])) * share
    reason = f"{len(agree)} of {len(estimates)} frames: {agree[0].reason}"
    if share < 1:
        reason += f" (the others: {', '.join(sorted({e.kind for e in estimates} - {kind}))})"
    return PSFEstimate.build(kind, params, confidence, reason, spread=spread)
