"""Isotropic blurs: defocus (a disk) and Gaussian, from the radial spectrum.

The ring means of the tapered power spectrum (:attr:`.Spectrum.tapered`,
whose borders leak no slow tail into a steep fall) are fitted with

    P(rho) = A * rho**-alpha * |H(rho)|**2 + N

where ``A rho**-alpha`` is the power law of natural scenes, ``N`` the white
noise floor and ``H`` the blur's transfer function: ``1`` (no blur),
``exp(-2 pi^2 sigma^2 rho^2)`` (Gaussian) or ``2 J1(z) / z`` with
``z = 2 pi r rho`` (a disk of radius r: its Bessel zeros are the rings).
For each (alpha, blur) on a grid, ``A`` and ``N`` follow in closed form from
a least-squares fit of relative errors; the grid point with the least
squared error of the logs wins. A disk must explain the spectrum better than
any Gaussian (its zeros are then seen), a Gaussian better than no blur.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import special

from .spectrum import Spectrum

__all__ = ["FloorFit", "RadialFit", "ellipticity", "fit_floor", "fit_radial", "ring_means"]

#: Power-law exponents tried for the scene (natural photos fall near rho^-2).
#: Steeper ones pass for part of a Gaussian blur: allowing up to 3.6, 1 sigma
#: in 24 (Set12 and colour photos) came out more than 15 % low; up to 3.0, none.
ALPHAS = np.arange(1.0, 3.01, 0.2)
SIGMAS = np.arange(0.2, 10.01, 0.05)
RADII = np.arange(0.6, 16.01, 0.05)
#: Rings from this frequency (cycles/px) up: below, the periodic component's
#: removal of the mean and the tile's few samples make the rings unreliable.
FIRST_RHO = 0.01
#: Rings up to this frequency. Above it JPEG's quantisation (which zeroes the
#: small high-frequency coefficients of a blurred photo) bends the noise floor
#: down, which reads as extra blur: measured on Set12 at quality 85, a Gaussian
#: sigma came out within 15 % in 1 case of 6 fitted to 0.5 cycle/px, 4 of 6 to
#: 0.35 and 6 of 6 to 0.25. The disk's rings need the wider range.
MAX_RHO = 0.35
MAX_RHO_GAUSSIAN = 0.25
#: The softness of a sharp photo at the pixel level (lens, demosaicing,
#: resampling), as a Gaussian sigma: unblurred Set12 images fit 0.35-1.1,
#: median 0.6. Blurs add in quadrature, so it is taken out of the fitted sigma.
SCENE_SIGMA = 0.6
#: A small disk's rings sit where the photo's own softness already bends the
#: spectrum, which a bare disk model cannot follow and a Gaussian can: the
#: small disks are also fitted with these scene softnesses (Gaussian sigmas)
#: folded in. On Set12 and the colour photos, disks of radius 2-3 px then fit
#: 1.2-60 times better than any Gaussian (0.2-1.0 times without), Gaussian
#: blurs of a similar width at most 1.02 times better.
SOFTNESS = (0.0, 0.3, 0.5, 0.7, 0.9)
SMALL_RADII = RADII[RADII <= 4.0]


@dataclass(frozen=True)
class RadialFit:
    """Least squared log error (per ring) and parameter of each family."""

    rss_none: float
    sigma: float
    rss_gaussian: float
    radius: float
    rss_disk: float
    rings: int
    #: The best disk of radius at most 4 px blurred by the scene's softness.
    radius_soft: float = 0.0
    rss_soft: float = np.inf
    #: The scene's exponent and the noise floor (in ``power``'s units) that
    #: go with the Gaussian fit.
    alpha: float = 2.0
    noise: float = 0.0


def ring_means(spec: Spectrum, max_rho: float = MAX_RHO):
    """(rho, mean power, bins per ring) for rings of width :attr:`Spectrum.step`."""
    ring = np.rint(spec.radius / spec.step).astype(np.intp)
    keep = spec.valid & (spec.radius <= 0.5)
    count = np.bincount(ring[keep])
    total = np.bincount(ring[keep], spec.tapered[keep])
    rho = np.arange(len(count)) * spec.step
    use = (count > 0) & (rho >= FIRST_RHO) & (rho <= max_rho)
    return rho[use], total[use] / count[use], count[use]


def _fit(gain: np.ndarray, y: np.ndarray, w: np.ndarray, floor=1.0) -> np.ndarray:
    """Squared log error of ``A gain + N floor`` against ``y`` for each row of ``gain``.

    ``A >= 0`` and ``N >= 0`` minimise the weighted relative error
    ``sum w ((A g + N floor) / y - 1)^2`` (a 2x2 linear system per row);
    ``floor`` is the noise floor's shape (1: white).
    """
    g = gain / y
    z = floor / y
    sgg, sgz, szz = (g * g) @ w, (g * z) @ w, (z * z) @ w
    sg, sz = g @ w, z @ w
    det = sgg * szz - sgz**2
    with np.errstate(divide="ignore", invalid="ignore"):
        a = (sg * szz - sz * sgz) / det
        n = (sgg * sz - sgz * sg) / det
        # Where a bound is active, refit the other alone.
        a_only = sg / sgg
        n_only = sz / szz
    bad = ~np.isfinite(a) | ~np.isfinite(n) | (a < 0) | (n < 0)
    a = np.where(bad & (n < 0), a_only, a)
    n = np.where(bad & (n < 0), 0.0, n)
    n = np.where(bad & (a < 0), n_only, n)
    a = np.where(bad & (a < 0), 0.0, a)
    # A floor of the gain's own shape leaves the system singular: gain alone.
    lost = ~np.isfinite(a) | ~np.isfinite(n)
    a, n = np.where(lost, a_only, a), np.where(lost, 0.0, n)
    model = np.maximum(a[:, None] * gain + n[:, None] * floor, 1e-30)
    return ((np.log(model) - np.log(y)) ** 2) @ w / w.sum()


@functools.lru_cache(maxsize=8)
def _transfer(rho_key: tuple) -> tuple[np.ndarray, np.ndarray]:
    rho = np.asarray(rho_key)
    gauss = np.exp(-4 * np.pi**2 * SIGMAS[:, None] ** 2 * rho[None, :] ** 2)
    z = 2 * np.pi * RADII[:, None] * rho[None, :]
    disk = (2 * special.j1(z) / z) ** 2
    return gauss, disk


@functools.lru_cache(maxsize=8)
def _soft_transfer(rho_key: tuple) -> np.ndarray:
    """(SOFTNESS x SMALL_RADII, rings): small disks times the scene's softness."""
    rho = np.asarray(rho_key)
    disk = _transfer(rho_key)[1][: len(SMALL_RADII)]
    soft = np.exp(-4 * np.pi**2 * np.asarray(SOFTNESS)[:, None] ** 2 * rho[None, :] ** 2)
    return (soft[:, None, :] * disk[None, :, :]).reshape(-1, len(rho))


def _argbest(rho, y, w, table, slopes=(0.0,)) -> tuple[float, float, int]:
    """(least squared log error, alpha, row of ``table``) over ALPHAS x rows,
    and over noise floors falling as ``rho**-slope`` for ``slopes``."""
    errors = np.stack(
        [_fit(rho ** (-alpha) * table, y, w, rho ** (-s)) for alpha in ALPHAS for s in slopes]
    )
    i, j = np.unravel_index(np.argmin(errors), errors.shape)
    return float(errors[i, j]), float(ALPHAS[i // len(slopes)]), int(j)


def _best(rho, y, w, table, params, slopes=(0.0,)) -> tuple[float, float]:
    """(least squared log error, parameter) over ALPHAS x the rows of ``table``."""
    error, _, j = _argbest(rho, y, w, table, slopes)
    return error, float(params[j])


def _floor(gain, y, w) -> float:
    """The noise floor ``N`` of the fit of ``A gain + N`` (see :func:`_fit`)."""
    g, z = gain / y, 1.0 / y
    system = np.array([[g * g @ w, g * z @ w], [g * z @ w, z * z @ w]])
    solution = np.linalg.lstsq(system, [g @ w, z @ w], rcond=None)[0]
    return max(float(solution[1]), 0.0)


def _rings(spec: Spectrum, max_rho: float):
    rho, y, count = ring_means(spec, max_rho)
    if len(rho) < 8:
        raise ValueError(f"too few frequency rings ({len(rho)}) to fit a blur")
    return rho, np.maximum(y, 1e-12), np.sqrt(count.astype(np.float64))


def fit_radial(spec: Spectrum) -> RadialFit:
    """The best no-blur, Gaussian and disk fits to the rings of ``spec``.

    The errors compare the families on the same rings; the Gaussian's sigma
    is then refitted on the narrower band where JPEG leaves the floor alone.
    """
    rho, y, w = _rings(spec, MAX_RHO)
    gauss, disk = _transfer(tuple(np.round(rho, 12)))
    rss_none, _ = _best(rho, y, w, np.ones((1, len(rho))), np.zeros(1))
    rss_gaussian, _ = _best(rho, y, w, gauss, SIGMAS)
    rss_disk, radius = _best(rho, y, w, disk, RADII)
    rss_soft, radius_soft = _best(
        rho, y, w, _soft_transfer(tuple(np.round(rho, 12))), np.tile(SMALL_RADII, len(SOFTNESS))
    )
    rho, y, w = _rings(spec, MAX_RHO_GAUSSIAN)
    gauss = _transfer(tuple(np.round(rho, 12)))[0]
    _, alpha, j = _argbest(rho, y, w, gauss)
    sigma = float(np.sqrt(max(SIGMAS[j] ** 2 - SCENE_SIGMA**2, 0.0)))
    return RadialFit(
        rss_none=rss_none,
        sigma=sigma,
        rss_gaussian=rss_gaussian,
        radius=radius,
        rss_disk=rss_disk,
        rings=len(rho),
        radius_soft=radius_soft,
        rss_soft=rss_soft,
        alpha=alpha,
        noise=_floor(rho ** (-alpha) * gauss[j], y, w),
    )


#: Slopes of the noise floor in :func:`fit_floor`: ``N rho**-slope``.
FLOOR_SLOPES = (0.0, 1.0, 2.0, 3.0)


@dataclass(frozen=True)
class FloorFit:
    """No blur against Gaussian and disk, each over a floor that may fall."""

    gain: float  # rss of no blur over the Gaussian's
    rss_gaussian: float
    sigma: float  # the Gaussian's, the scene's softness taken out
    disk_gain: float  # rss of the Gaussian over the disk's
    radius: float

    @property
    def rings(self) -> float:
        """The rss of no blur over the disk's."""
        return self.gain * self.disk_gain


def fit_floor(spec: Spectrum, disks: bool = True) -> FloorFit:
    """The fits of :func:`fit_radial` with a noise floor ``N rho**-slope``.

    JPEG's error is not white: on a strongly blurred photo (Gaussian sigma
    4-5, disks of radius 8-10 px, JPEG quality 85; Set12 and the colour
    photos) the spectrum falls steeply to about 0.1 cycle/px and then follows
    a floor falling as ``rho**-1`` to ``rho**-2``, which the white floor
    cannot follow and a sharp scene's power law can: such a photo read as
    sharp. Over a falling floor the Gaussian then fits 9-180 times better
    than no blur, with a sigma of 3.8-8.4 px; on the same photos unblurred
    (with or without JPEG), wherever the sigma over the falling floor passes
    1.5 px (at most 2.8 px) the gain stays under 1.8. ``disks=False``
    leaves the disks out (``disk_gain`` 0).
    """
    rho, y, w = _rings(spec, MAX_RHO)
    gauss, disk = _transfer(tuple(np.round(rho, 12)))
    rss_none, _ = _best(rho, y, w, np.ones((1, len(rho))), np.zeros(1), FLOOR_SLOPES)
    rss_gaussian, _ = _best(rho, y, w, gauss, SIGMAS, FLOOR_SLOPES)
    # The disks cost half the time; only the choice of a family needs them.
    rss_disk, radius = _best(rho, y, w, disk, RADII, FLOOR_SLOPES) if disks else (np.inf, 0.0)
    rho, y, w = _rings(spec, MAX_RHO_GAUSSIAN)
    gauss = _transfer(tuple(np.round(rho, 12)))[0]
    _, sigma = _best(rho, y, w, gauss, SIGMAS, FLOOR_SLOPES)
    return FloorFit(
        gain=rss_none / max(rss_gaussian, 1e-12),
        rss_gaussian=rss_gaussian,
        sigma=float(np.sqrt(max(sigma**2 - SCENE_SIGMA**2, 0.0))),
        disk_gain=rss_gaussian / max(rss_disk, 1e-12),
        radius=radius,
    )


#: Angular sectors for :func:`ellipticity`, and their rings' width in steps.
SECTORS, SECTOR_RING = 8, 2.0


def ellipticity(spec: Spectrum, radial: RadialFit) -> float:
    """How much the Gaussian that fits the spectrum depends on the direction:
    the amplitude of the ``cos 2 theta`` term of ``sigma(theta)^2`` (px^2),
    with ``sigma(theta)`` fitted in each of :data:`SECTORS` angular sectors.

    The scene's power law and the noise floor come from the fit of all the
    rings, ``radial`` (the noise is white, the scene's exponent about the
    same in every direction); each sector then fits its own amplitude, which
    absorbs the scene's anisotropy (edges in one direction), and its own
    sigma. A Gaussian or a disk gives the same sigma in every direction, a
    camera shake does not.
    """
    theta = np.arctan2(*np.broadcast_arrays(spec.rows_freq, spec.cols_freq)) % np.pi
    sector = np.minimum((theta / np.pi * SECTORS).astype(np.intp), SECTORS - 1)
    step = spec.step * SECTOR_RING
    ring = np.rint(spec.radius / step).astype(np.intp)
    keep = spec.valid & (spec.radius <= MAX_RHO_GAUSSIAN)
    rings = int(ring[keep].max()) + 1 if keep.any() else 1
    index = sector[keep] * rings + ring[keep]
    count = np.bincount(index, minlength=SECTORS * rings).reshape(SECTORS, rings)
    total = np.bincount(index, spec.tapered[keep], minlength=SECTORS * rings)
    total = total.reshape(SECTORS, rings)
    r_all = np.arange(rings) * step
    sigma2 = np.zeros(SECTORS)
    for k in range(SECTORS):
        use = (count[k] > 0) & (r_all >= FIRST_RHO)
        if use.sum() < 4:
            return 0.0
        r, y = r_all[use], np.maximum(total[k, use] / count[k, use], 1e-12)
        w = np.sqrt(count[k, use].astype(np.float64))
        model = r ** (-radial.alpha) * np.exp(-4 * np.pi**2 * SIGMAS[:, None] ** 2 * r**2)
        # The amplitude minimising the relative error with the floor fixed.
        g = model / y
        amp = np.maximum((g * (1.0 - radial.noise / y)) @ w / ((g * g) @ w), 1e-30)
        fitted = np.maximum(amp[:, None] * model + radial.noise, 1e-30)
        sigma2[k] = SIGMAS[np.argmin(((np.log(fitted) - np.log(y)) ** 2) @ w)] ** 2
    centres = (np.arange(SECTORS) + 0.5) * 2 * np.pi / SECTORS
    return float(2 / SECTORS * abs(np.sum(sigma2 * np.exp(1j * centres))))
