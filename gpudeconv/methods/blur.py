"""The forward model: convolve frames with a PSF, borders handled."""

from __future__ import annotations

from ..engine.pipeline import FourierFilter

__all__ = ["Blur", "blur"]


class Blur(FourierFilter):
    """Convolution with a PSF, planned once (see :func:`blur`)."""

    seamless = False  # the padding must be the exact mirror image

    def __init__(self, psf, *, border: str = "reflect", **options):
        if border not in ("reflect", "circular"):
            raise ValueError(f"border must be 'reflect' or 'circular', got {border!r}")
        super().__init__(psf, border=border, **options)


def blur(image, psf, *, border: str = "reflect", channel_axis=None, backend: str = "auto"):
    """Convolve ``image`` with ``psf``: the blur that :func:`wiener` undoes.

    A true convolution, centred at the PSF's pixel ``(k_r // 2, k_c // 2)``:
    for odd-sized PSFs it equals ``scipy.signal.fftconvolve(image, psf,
    mode="same")`` on the padded image, and for every size
    ``scipy.ndimage.convolve`` and MATLAB ``imfilter(..., 'conv')``.

    Parameters
    ----------
    image : (..., M, N[, C]) array
        Layout, dtype and device rules as in :func:`gpudeconv.wiener`.
    psf : (k_r, k_c) array_like
        Normalised to sum 1.
    border : {"reflect", "circular"}
        ``"reflect"``: the image continues as its mirror image (edge pixel
        repeated, ``scipy.ndimage`` mode ``"reflect"``). ``"circular"``: it
        repeats periodically.
    channel_axis : int, optional
    backend : {"auto", "numpy", "cupy"}

    Returns
    -------
    blurred : array
        Same shape, dtype (integers rounded and clipped) and device.
    """
    return Blur(psf, border=border, channel_axis=channel_axis, backend=backend)(image)
