"""``estimate_psf``: which blur, how much, and how sure, from the photo itself.

One frame goes through :func:`.spectrum.measure` (tiles, periodic component,
JPEG mask), then the two fits: :func:`.motion.fit_motion` (straight motion)
and :func:`.defocus.fit_radial` (no blur, Gaussian, disk). How much the
whitened spectrum depends on the direction (:func:`.spectrum.structure`)
decides between a motion and an isotropic blur; each family's own evidence
gives the confidence. Thresholds were set on Set12 (see
``benchmarks/psf_estimation.py``).
"""

from __future__ import annotations

import numbers

import numpy as np

from ..engine import frames as _frames
from ..engine.arrays import is_cupy_array, to_host
from ..engine.dispatch import resolve_backend
from .defocus import ellipticity, fit_floor, fit_radial
from .motion import fit_motion
from .result import PSFEstimate
from .spectrum import measure, structure

__all__ = ["KINDS", "estimate_psf"]

KINDS = ("auto", "motion", "disk", "gaussian")
#: Smallest side that holds enough frequency rings to fit anything.
MIN_SIDE = 64
#: Whitened structure above which the blur is taken to depend on direction.
ANISOTROPIC = 1.05
#: Below these, the blur is too small to matter and is reported as "none".
MIN_SIGMA, MIN_RADIUS = 0.7, 1.5
#: Up to this radius a disk is also fitted with the scene's softness; it is
#: named when that fit beats every Gaussian by SOFT_GAIN (Gaussian blurs
#: reach 1.02 on Set12 and the colour photos, disks of radius 2-3 px 1.2-60).
SMALL_DISK, SOFT_GAIN = 3.2, 1.1
#: A photo that reads as sharp is taken for a strong blur under JPEG when,
#: over a falling noise floor (:func:`.defocus.fit_floor`), a Gaussian of
#: sigma JPEG_SIGMA or more fits JPEG_GAIN times better than no blur.
JPEG_SIGMA, JPEG_GAIN, JPEG_FIT = 3.0, 4.0, 10.0


def _ramp(value: float, low: float, high: float) -> float:
    """0 at ``low``, 1 at ``high``, linear between."""
    return float(min(1.0, max(0.0, (value - low) / (high - low))))


def _motion_estimate(fit, aniso: float) -> PSFEstimate:
    # Measured on Set12 (noise 0-2, JPEG 85): straight motion of 9-41 px gives
    # correlation 0.83-0.97, depth 0.43-1.2 and structure 1.24-1.9; Levin's
    # shakes reach correlation 0.87 and depth 0.7 but then with structure
    # 1.0-1.1, or a fitted length that collapses below 6 px. The nearly
    # straight ones (k1-k3) differ in straightness: 0.62-0.71 against 0.74
    # and more for straight motion but in 3 cases of 102 (0.58-0.67).
    straight = _ramp(fit.straightness, 0.62, 0.76)
    confidence = (
        _ramp(fit.score, 0.72, 0.86)
        * _ramp(fit.depth, 0.2, 0.45)
        * _ramp(fit.length, 4.0, 7.0)
        * _ramp(aniso, 1.0, 1.3)
        * straight
    )
    params = {"length": fit.length, "angle": fit.angle}
    if confidence >= 0.5:
        reason = (
            f"straight motion: sinc stripes at {fit.angle:.1f} deg match "
            f"(correlation {fit.score:.2f})"
        )
    elif aniso >= ANISOTROPIC and straight < 0.5:
        reason = (
            f"stripes at {fit.angle:.1f} deg, but not the same all along a straight line's "
            f"(straightness {fit.straightness:.2f}); camera shake? the line is a guess"
        )
    elif aniso >= ANISOTROPIC:
        reason = (
            "the blur depends on the direction but is not a straight line "
            f"(correlation {fit.score:.2f} with one); camera shake? the line is a guess"
        )
    else:
        reason = f"no clear motion stripes (correlation {fit.score:.2f}); the line is a guess"
    return PSFEstimate.build("motion", params, confidence, reason)


def _round_shape(spec, radial) -> float:
    """1 when the Gaussian that fits is the same in every direction, 0 when
    its sigma^2 varies with the direction as a camera shake's does.

    :func:`.defocus.ellipticity` over the fitted sigma^2 (at least 1.5^2),
    measured on Set12 and the colour photos (noise 0-2, JPEG 85; 510 cases):
    at most 0.22 for the Gaussian blurs named so with confidence, at most 0.30
    for sharp photos named Gaussian or none, 0.36 and more for all of Levin's
    shakes that were confidently named Gaussian or none without it.
    """
    spread = ellipticity(spec, radial) / max(radial.sigma, 1.5) ** 2
    return 1.0 - _ramp(spread, 0.25, 0.35)


def _isotropic_estimate(radial, aniso: float, kind: str, motion=None, spec=None) -> PSFEstimate:
    gain_blur = radial.rss_none / max(radial.rss_gaussian, 1e-12)
    gain_disk = radial.rss_gaussian / max(radial.rss_disk, 1e-12)
    gain_rings = radial.rss_none / max(radial.rss_disk, 1e-12)
    # Structure: at most 0.94 for no blur, Gaussian and disk on Set12 and the
    # colour photos; 0.99 and more for all of Levin's shakes but one.
    isotropic = 1.0 - _ramp(aniso, 0.9, 1.05)
    if motion is not None:
        # Stripes as deep as a motion's in a spectrum that is otherwise
        # isotropic: Gaussian and disk blurs reach a depth of 0.35 at most,
        # Levin's shakes 0.4-0.7 (Set12 and the colour photos).
        isotropic *= 1.0 - _ramp(motion.depth, 0.35, 0.55)
    # A small disk (its rings where the scene's own softness bends the
    # spectrum) is told from a Gaussian with that softness folded in.
    gain_soft = radial.rss_gaussian / max(radial.rss_soft, 1e-12)
    small = MIN_RADIUS <= radial.radius_soft <= SMALL_DISK
    if kind == "auto":
        # A Gaussian of sigma 3-4 px fits up to 1.7 times worse than some disk.
        if gain_disk >= 1.8 and gain_rings >= 2.0 and radial.radius >= MIN_RADIUS:
            kind = "disk"
        elif small and gain_soft >= SOFT_GAIN and gain_rings >= 2.0:
            kind = "disk"
        elif gain_blur >= 2.0 and radial.sigma >= MIN_SIGMA:
            kind = "gaussian"
        else:
            kind = "none"
    floor = None
    if kind == "none" and spec is not None:
        floor = fit_floor(spec)
        if floor.sigma >= JPEG_SIGMA and max(floor.gain, floor.rings) >= JPEG_GAIN:
            return _floor_estimate(floor, isotropic, lambda: _round_shape(spec, radial))
    round_shape = 1.0 if spec is None or kind == "disk" else _round_shape(spec, radial)
    if kind == "none":
        # A fitted sigma under MIN_SIGMA is itself the answer "no blur".
        bends = _ramp(gain_blur, 2.0, 6.0) if radial.sigma >= MIN_SIGMA else 0.0
        if floor is not None:
            # Half-way to a strong blur over a falling floor: not sure either.
            bends = max(
                bends,
                _ramp(floor.gain, 2.0, JPEG_GAIN) * _ramp(floor.sigma, 2.0, JPEG_SIGMA),
            )
        confidence = (1.0 - bends) * isotropic * round_shape
        return PSFEstimate.build(
            "none",
            {},
            confidence,
            "no measurable blur: the spectrum follows a sharp scene's"
            if confidence >= 0.5
            else "no family fits: the spectrum has structure none of them explains",
        )
    if kind == "disk":
        rings = max(_ramp(gain_disk, 1.2, 3.0), _ramp(gain_soft, 1.0, 1.2) if small else 0.0)
        confidence = rings * _ramp(gain_rings, 1.5, 4.0) * isotropic
        ok = f"defocus: Bessel rings of a {radial.radius:.2f} px disk seen"
        guess = "no clear defocus rings; the radius is a guess"
        params = {"radius": max(radial.radius, 0.5)}
    else:
        confidence = (
            _ramp(gain_blur, 2.0, 6.0)
            * _ramp(radial.sigma, 0.5, 1.0)
            * (1.0 - _ramp(gain_disk, 1.5, 3.0))
            * (1.0 - (_ramp(gain_soft, 1.0, 1.2) if small else 0.0))
            * isotropic
            * round_shape
        )
        ok = f"Gaussian blur: the spectrum bends down as sigma {radial.sigma:.2f} px predicts"
        guess = "the spectrum barely bends; the sigma is a guess"
        params = {"sigma": max(_sigma_over_jpeg(radial, spec), 0.2)}
    if confidence < 0.5 and min(isotropic, round_shape) < 0.5:
        guess = (
            f"the blur depends on the direction, which no {kind} does (camera shake?); "
            f"the {next(iter(params))} is a guess"
        )
    return PSFEstimate.build(kind, params, confidence, ok if confidence >= 0.5 else guess)


def _sigma_over_jpeg(radial, spec) -> float:
    """The Gaussian's sigma, or, where a falling floor fits the Gaussian
    JPEG_FIT times better than a white one and gives a sigma of JPEG_SIGMA
    or more, that sigma. On Set12 and the colour photos (sigma 1.5-5, noise
    0-2, with and without JPEG 85): 24 of 519 Gaussian answers, 3 of them
    sigma 5 in a JPEG that were 16-19 % low (now 1-7 % high), none lost."""
    if spec is None or radial.sigma < JPEG_SIGMA - 1.0:
        return radial.sigma
    floor = fit_floor(spec, disks=False)
    if floor.sigma >= JPEG_SIGMA and radial.rss_gaussian >= JPEG_FIT * floor.rss_gaussian:
        return floor.sigma
    return radial.sigma


def _floor_estimate(floor, isotropic: float, round_shape) -> PSFEstimate:
    """A strong blur seen only over a falling noise floor (JPEG's error).

    Gaussian unless a disk fits clearly better (as in :func:`_isotropic_estimate`).
    On Set12 and the colour photos under JPEG 85, Gaussians of sigma 4-5 fit
    1.1-16 times better than any disk; disks of radius 7-10 px 6-10 times
    better than any Gaussian, or, under noise 2, about as well (0.9-1.1):
    the family is then uncertain, and the confidence says so.
    """
    if floor.disk_gain >= 1.8 and floor.rings >= JPEG_GAIN:
        params = {"radius": floor.radius}
        kind, what = "disk", f"a {floor.radius:.2f} px disk"
        rings = _ramp(floor.disk_gain, 1.2, 3.0) * _ramp(floor.rings, JPEG_GAIN, 10.0)
        confidence = rings * isotropic
    else:
        params = {"sigma": floor.sigma}
        kind, what = "gaussian", f"a Gaussian of sigma {floor.sigma:.2f} px"
        confidence = (
            _ramp(floor.gain, JPEG_GAIN, 10.0)
            * (1.0 - _ramp(floor.disk_gain, 0.5, 0.9))
            * isotropic
            * round_shape()
        )
    reason = f"strong blur over a noise floor that falls (JPEG?): {what} fits"
    if confidence < 0.5:
        reason += "; a disk or a Gaussian fit about as well, the family is a guess"
    return PSFEstimate.build(kind, params, confidence, reason)


def estimate_frame(be, frame, kind: str = "auto", to_grey=None) -> PSFEstimate:
    """The estimate for one frame on backend ``be`` (see :func:`.spectrum.measure`)."""
    spec = measure(be, frame, to_grey)
    if spec.contrast == 0:
        return PSFEstimate.build("none", {}, 0.0, "the image is flat: there is nothing to measure")
    whitened = spec.whitened()
    aniso = structure(spec, whitened)
    motion = fit_motion(spec, whitened) if kind in ("auto", "motion") else None
    if kind == "motion" or (kind == "auto" and aniso >= ANISOTROPIC):
        return _motion_estimate(motion, aniso)
    return _isotropic_estimate(fit_radial(spec), aniso, kind, motion, spec)


def _grey(be, tile, colour: bool):
    """A tile (channels, rows, cols) or (rows, cols) as grey float64 on ``be``:
    the mean of the colour channels, alpha left out."""
    tile = be.asarray(tile)
    if not colour:
        return tile.astype(np.float64)
    used = tile[:3] if tile.shape[0] in (3, 4) else tile
    return used.astype(np.float64).mean(axis=0)


def _check(image, kind, channel_axis, max_size, frame_axis):
    image = _frames.as_image(image)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}, got {kind!r}")
    if max_size is not None and (
        isinstance(max_size, bool)
        or not isinstance(max_size, numbers.Integral)
        or max_size < 2 * MIN_SIDE
    ):
        raise ValueError(f"max_size must be None or an integer >= {2 * MIN_SIDE}, got {max_size!r}")
    if frame_axis is not None:
        if isinstance(frame_axis, bool) or not isinstance(frame_axis, numbers.Integral):
            raise TypeError(f"frame_axis must be an integer or None, got {frame_axis!r}")
        if not -image.ndim <= frame_axis < image.ndim:
            raise ValueError(f"frame_axis={frame_axis} is out of range for shape {image.shape}")
        frame_axis %= image.ndim
        if channel_axis is not None and channel_axis % image.ndim == frame_axis:
            raise ValueError(f"frame_axis and channel_axis are the same axis ({frame_axis})")
    spatial = image.ndim - (channel_axis is not None) - (frame_axis is not None)
    if spatial != 2:
        raise ValueError(
            f"image must be one frame (rows, cols) besides channel_axis and frame_axis, got "
            f"shape {image.shape}; pass frame_axis=0 for a stack or video"
        )
    return image, frame_axis


def _downscale(grey, max_size):
    """``grey`` shrunk (area average, on the host) so that its longer side is
    at most ``max_size``; and the factor to multiply lengths back."""
    rows, cols = grey.shape
    factor = max(rows, cols) / max_size if max_size else 1.0
    if factor <= 1.0:
        return grey, 1.0
    import cv2

    size = (max(1, round(cols / factor)), max(1, round(rows / factor)))
    host = to_host(grey).astype(np.float32)
    return cv2.resize(host, size, interpolation=cv2.INTER_AREA), factor


def _scaled(estimate: PSFEstimate, factor: float) -> PSFEstimate:
    if factor == 1.0 or estimate.kind == "none":
        return estimate
    params = {k: (v if k == "angle" else v * factor) for k, v in estimate.params.items()}
    reason = f"{estimate.reason} (measured at 1/{factor:.2g} scale)"
    return PSFEstimate.build(estimate.kind, params, estimate.confidence, reason)


def estimate_psf(
    image, kind="auto", *, channel_axis=None, max_size=None, backend="auto", frame_axis=None
) -> PSFEstimate:
    """Estimate the blur of a photo (or of a stack of frames) from its spectrum.

    Parameters
    ----------
    image : (M, N), (M, N, C) or stacked array, NumPy or CuPy
        Grey or colour (give ``channel_axis``), 8/16-bit or float, at least
        64 x 64 (128 x 128 and more for a confident answer). Colour is measured on
        the mean of its first three channels.
    kind : {"auto", "motion", "disk", "gaussian"}
        ``"auto"`` chooses the family, or says ``"none"``; the others
        restrict the search to one family.
    channel_axis : int, optional
        The colour axis, if any.
    max_size : int, optional
        Shrink the image (area average) so that its longer side is at most
        this before measuring; lengths are scaled back. By default the
        measure runs on full-resolution tiles of at most 512 x 512 spread
        over the image, which keeps 12 megapixels fast without a shrink.
    backend : {"auto", "numpy", "cupy"}
        Where the FFTs run; the small fits run on the host.
    frame_axis : int, optional
        For a stack or a video: the axis of the frames. Up to nine frames
        spread over the stack are measured and combined (majority kind,
        median parameters); ``spread`` reports their scatter.

    Returns
    -------
    PSFEstimate
        ``kind``, ``params``, ``psf``, ``spec``, ``confidence``, ``reason``
        (and ``spread`` for a stack).

    Raises
    ------
    ValueError
        Bad ``kind``, axes or ``max_size``, non-finite values, or a frame
        smaller than 64 x 64.

    Examples
    --------
    A scene with the power-law spectrum of natural images (a random walk),
    blurred by a 21 px motion at 30 degrees:

    >>> import numpy as np, scipy.ndimage, scipy.signal, gpudeconv
    >>> rng = np.random.default_rng(0)
    >>> steps = scipy.ndimage.gaussian_filter(rng.standard_normal((600, 600)), 1.5)
    >>> scene = np.cumsum(steps, axis=0) + np.cumsum(steps, axis=1)
    >>> photo = scipy.signal.fftconvolve(scene, gpudeconv.psf.motion(21, 30), "valid")
    >>> est = gpudeconv.estimate_psf(photo, backend="numpy")
    >>> est.kind, abs(est.params["length"] - 21) < 1.5, abs(est.params["angle"] - 30) < 1.5
    ('motion', True, True)
    >>> est.spec == f"motion:{est.params['length']:g}:{est.params['angle']:g}"
    True
    """
    image, frame_axis = _check(image, kind, channel_axis, max_size, frame_axis)
    be = resolve_backend(backend, image)
    if frame_axis is not None:
        from .stack import combine, sample_frames

        channel = None if channel_axis is None else channel_axis % image.ndim
        picks = sample_frames(image.shape[frame_axis])
        estimates = []
        for i in picks:
            frame = image[(slice(None),) * frame_axis + (i,)]
            axis = None if channel is None else channel - (channel > frame_axis)
            estimates.append(_one(be, frame, kind, axis, max_size))
        return combine(estimates)
    return _one(be, image, kind, channel_axis, max_size)


def _one(be, image, kind, channel_axis, max_size) -> PSFEstimate:
    layout = _frames.Layout.of(image, channel_axis)
    frame = layout.frames(image)  # (channels, rows, cols) or (rows, cols)
    rows, cols = frame.shape[-2:]
    if min(rows, cols) < MIN_SIDE:
        raise ValueError(
            f"image must be at least {MIN_SIDE}x{MIN_SIDE} to estimate a blur, got {rows}x{cols}"
        )
    if image.dtype.kind == "f":
        with be.context():
            xp = np if not is_cupy_array(image) else be.xp
            if not bool(xp.isfinite(image).all()):
                raise ValueError("image must hold finite values (no NaN or inf)")
    colour = layout.channel_axis is not None

    def to_grey(tile):
        return _grey(be, tile, colour)

    factor = 1.0
    if max_size is not None and max(rows, cols) > max_size:
        with be.context():
            grey, factor = _downscale(to_grey(frame), max_size)
        frame, to_grey = grey, None
    estimate = estimate_frame(be, frame, kind, to_grey)
    if min(rows, cols) / factor < 2 * MIN_SIDE and estimate.confidence > 0.3:
        estimate = PSFEstimate.build(
            estimate.kind,
            dict(estimate.params),
            0.3,
            f"{estimate.reason}; but the image is too small to be sure",
        )
    return _scaled(estimate, factor)
