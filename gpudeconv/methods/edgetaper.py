"""MATLAB's ``edgetaper`` as a frame operation on any backend."""

from __future__ import annotations

from ..engine.borders import taper
from ..engine.pipeline import FourierFilter, raise_if_not_finite

__all__ = ["EdgeTaper", "edgetaper"]


class EdgeTaper(FourierFilter):
    """MATLAB ``edgetaper`` as a reusable filter (see :func:`edgetaper`)."""

    def __init__(self, psf, **options):
        super().__init__(psf, border="edgetaper", **options)

    def transfer(self, backend, padded):
        return None  # tapering is the whole operation: no filter follows

    def _apply(self, backend, plan, chunk, work, check_finite, offset, index=()):
        tapered = taper(backend, *plan.taper, chunk.astype(work, copy=True))
        if check_finite:
            raise_if_not_finite(backend.xp, tapered.sum(axis=(-2, -1), keepdims=True), chunk)
        if offset:
            tapered += offset
        return tapered


def edgetaper(image, psf, *, channel_axis=None, backend="auto"):
    """Taper the image's edges with the PSF (MATLAB ``edgetaper``).

    The output is ``alpha * image + (1 - alpha) * blurred``, where ``blurred``
    is the image circularly convolved with ``psf`` and ``alpha`` comes from
    the PSF's autocorrelation (:func:`gpudeconv.engine.borders.taper_weights`):
    equal to the image in its interior and to its blurred version near the
    edges, so that the frame becomes nearly periodic before an FFT-based
    deconvolution.

    Parameters
    ----------
    image : (..., M, N[, C]) array
        NumPy or CuPy; layout as in :func:`gpudeconv.wiener`.
    psf : (k_r, k_c) array_like
        Normalised to sum 1; must be smaller than half the image on each axis.
    channel_axis : int, optional
    backend : {"auto", "numpy", "cupy"}

    Returns
    -------
    tapered : array
        Same shape, dtype policy and device as :func:`gpudeconv.wiener`.
    """
    return EdgeTaper(psf, channel_axis=channel_axis, backend=backend)(image)
