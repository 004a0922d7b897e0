"""One front door to every method, with automatic parameters by default."""

from __future__ import annotations

from .methods.richardson_lucy import RichardsonLucy
from .methods.sparse import SparseDeconvolution
from .methods.wiener import Wiener

__all__ = ["METHODS", "deconvolve", "make_deconvolver"]

METHODS = {
    "wiener": Wiener,
    "richardson_lucy": RichardsonLucy,
    "sparse": SparseDeconvolution,
}


def make_deconvolver(psf, method: str = "wiener", **options):
    """The planned filter object of ``method`` (call it on frames).

    Wiener's ``snr`` defaults to ``"auto"`` here.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}, got {method!r}")
    if method == "wiener":
        options.setdefault("snr", "auto")
    try:
        return METHODS[method](psf, **options)
    except TypeError as exc:
        if "unexpected keyword" in str(exc):
            raise TypeError(f"method {method!r} does not take that option: {exc}") from None
        raise


def deconvolve(image, psf, method: str = "wiener", **options):
    """Restore ``image`` blurred by ``psf`` with the chosen method.

    Parameters
    ----------
    image : (..., M, N[, C]) array
        Layout, dtype and device rules as in :func:`gpudeconv.wiener`.
    psf : (k_r, k_c) array_like
    method : {"wiener", "richardson_lucy", "sparse"}
        ``"wiener"`` (fastest; ``snr="auto"`` by default here: the balance
        is chosen per frame from the estimated noise, see
        :mod:`gpudeconv.methods.parameters`),
        ``"richardson_lucy"`` (non-negative, Poisson noise; ``iterations``)
        or ``"sparse"`` (total-variation prior; best on noisy photographs,
        weight set from the estimated noise; slowest).
    **options
        Passed to the method: see :func:`gpudeconv.wiener`,
        :func:`gpudeconv.richardson_lucy`, :func:`gpudeconv.sparse_deconvolve`.

    Examples
    --------
    >>> import numpy as np, gpudeconv
    >>> rng = np.random.default_rng(1)
    >>> sharp = rng.random((64, 64))
    >>> k = gpudeconv.psf.motion(7, 30)
    >>> noisy = gpudeconv.blur(sharp, k) + 0.01 * rng.standard_normal((64, 64))
    >>> gpudeconv.deconvolve(noisy, k, method="sparse", backend="numpy").shape
    (64, 64)
    """
    return make_deconvolver(psf, method, **options)(image)
