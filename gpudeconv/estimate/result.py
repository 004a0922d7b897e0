"""The result of :func:`gpudeconv.estimate_psf`: immutable, with a kernel and a
``--psf`` text that reproduce each other exactly."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from ..engine.generators import disk, gaussian, motion

__all__ = ["PSFEstimate", "make_psf", "spec_text"]


def _text(value: float, digits: int) -> str:
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") or "0"


def spec_text(kind: str, params: Mapping[str, float]) -> tuple[dict, str]:
    """(params rounded as printed, the ``--psf`` text) for an estimate."""
    if kind == "none":
        return {}, "motion:1:0"
    if kind == "motion":
        length = round(max(1.0, params["length"]), 1)
        angle = round(params["angle"] % 180.0, 1) % 180.0
        rounded = {"length": length, "angle": angle}
        return rounded, f"motion:{_text(length, 1)}:{_text(angle, 1)}"
    name = "radius" if kind == "disk" else "sigma"
    value = round(params[name], 2)
    return {name: value}, f"{kind}:{_text(value, 2)}"


def make_psf(kind: str, params: Mapping[str, float]) -> np.ndarray:
    """The kernel of an estimate, from the generators ``--psf`` uses too."""
    if kind == "none":
        return motion(1, 0)
    if kind == "motion":
        return motion(params["length"], params["angle"])
    if kind == "disk":
        return disk(params["radius"])
    return gaussian(params["sigma"])


@dataclass(frozen=True)
class PSFEstimate:
    """What :func:`estimate_psf` found. Immutable: ``params`` is a read-only
    mapping and ``psf`` a read-only array.

    Attributes
    ----------
    kind : {"motion", "disk", "gaussian", "none"}
    params : mapping of str to float
        In the units of :mod:`gpudeconv.psf`: motion ``length`` (px) and
        ``angle`` (degrees in [0, 180)), disk ``radius``, gaussian ``sigma``;
        empty for ``"none"``.
    psf : (k, k) ndarray of float64
        The kernel, from the generators of :mod:`gpudeconv.psf` (``"none"``:
        the 1 x 1 identity).
    spec : str
        What ``--psf`` accepts to reproduce ``psf`` exactly (``"none"``:
        ``"motion:1:0"``, the identity).
    confidence : float
        In [0, 1]; below 0.5 the estimate is a guess, and ``reason`` says why.
    reason : str
        One line a user can read.
    spread : mapping of str to float or None
        For a stack: the median absolute deviation of each parameter over
        the frames that agreed on ``kind``; None for one frame.
    """

    kind: str
    params: Mapping[str, float]
    psf: np.ndarray = field(repr=False)
    spec: str
    confidence: float
    reason: str
    spread: Mapping[str, float] | None = None

    @classmethod
    def build(cls, kind, params, confidence, reason, spread=None) -> PSFEstimate:
        """An estimate whose ``psf`` and ``spec`` follow from ``params``
        (rounded as ``spec`` prints them, so both agree exactly)."""
        params, spec = spec_text(kind, params)
        psf = make_psf(kind, params)
        psf.setflags(write=False)
        return cls(
            kind=kind,
            params=MappingProxyType(params),
            psf=psf,
            spec=spec,
            confidence=float(min(1.0, max(0.0, confidence))),
            reason=reason,
            spread=None if spread is None else MappingProxyType(dict(spread)),
        )
