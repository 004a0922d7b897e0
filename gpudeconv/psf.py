"""Point-spread functions: generators, validation and normalisation.

Every PSF returned here is a 2-D float64 NumPy array that sums to 1. The sum
matters: Wiener's ``1/snr`` is scale-free only for a normalised PSF. PSFs are
tiny, so they live on the host; the filters move them to the device.

The centre of a PSF of shape ``(kr, kc)`` is the pixel ``(kr // 2, kc // 2)``
(MATLAB ``psf2otf`` convention, even sizes included).
"""

from __future__ import annotations

import numpy as np

from .engine.generators import disk, gaussian, motion
from .engine.kernels import normalize

__all__ = ["motion", "gaussian", "disk", "normalize", "from_spec"]


SPEC_HELP = (
    "motion:LENGTH:ANGLE, gaussian:SIGMA, disk:RADIUS, or a .npy or image file "
    "(.png, .tif, ...) holding the PSF"
)


def from_spec(spec: str) -> np.ndarray:
    """A PSF from a short text specification (as the command line takes it).

    ``motion:LENGTH:ANGLE`` (append ``:matlab`` for MATLAB's kernel),
    ``gaussian:SIGMA``, ``disk:RADIUS``, or a path to a ``.npy`` file or an
    image file holding the PSF (colour images are averaged to grey; a picture
    written by ``gpudeconv psf`` is shrunk back by the scale it records). The
    result is normalised to sum 1.

    Examples
    --------
    >>> from_spec("motion:9:0").shape
    (9, 9)
    """
    from pathlib import Path

    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"empty PSF specification; use {SPEC_HELP}")
    kind, _, rest = spec.strip().partition(":")
    args = rest.split(":") if rest else []
    generators = {"motion": (motion, (2, 3)), "gaussian": (gaussian, (1,)), "disk": (disk, (1,))}
    if kind.lower() in generators and not Path(spec).exists():
        make, counts = generators[kind.lower()]
        if len(args) not in counts:
            raise ValueError(f"bad PSF specification {spec!r}; use {SPEC_HELP}")
        method = "opencv"
        if kind.lower() == "motion" and len(args) == 3:
            method = args.pop()
            if method not in ("opencv", "matlab"):
                raise ValueError(f"bad PSF specification {spec!r}: unknown method {method!r}")
        try:
            numbers_ = [float(a) for a in args]
        except ValueError:
            raise ValueError(
                f"bad PSF specification {spec!r}: {', '.join(args)} must be numbers; "
                f"use {SPEC_HELP}"
            ) from None
        if kind.lower() == "motion":
            return motion(*numbers_, method=method)
        return make(*numbers_)
    path = Path(spec)
    if not path.exists():
        raise ValueError(f"unknown PSF specification {spec!r}: not a file; use {SPEC_HELP}")
    if path.suffix.lower() == ".npy":
        try:
            kernel = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise ValueError(f"cannot read PSF file {path}: {exc}") from None
    else:
        from .media.images import read_psf_picture

        kernel = read_psf_picture(path)
    return normalize(kernel, argname=f"PSF from {path.name}")
