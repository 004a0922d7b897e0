"""gpudeconv: Wiener deconvolution on the CPU (NumPy/SciPy) and NVIDIA GPUs (CuPy).

>>> import gpudeconv
>>> k = gpudeconv.psf.motion(31, 60)
>>> restored = gpudeconv.wiener(blurred, k, snr=100, channel_axis=-1)  # doctest: +SKIP
"""

from . import psf
from ._backend import available_backends
from .blur import Blur, blur
from .borders import edgetaper
from .deconvolve import deconvolve, make_deconvolver
from .noise import estimate_noise
from .otf import otf
from .richardson_lucy import RichardsonLucy, richardson_lucy
from .sparse import SparseDeconvolution, sparse_deconvolve
from .wiener import Wiener, wiener

__version__ = "0.1.0"

__all__ = [
    "Blur",
    "RichardsonLucy",
    "SparseDeconvolution",
    "Wiener",
    "available_backends",
    "blur",
    "deconvolve",
    "edgetaper",
    "estimate_noise",
    "make_deconvolver",
    "otf",
    "psf",
    "richardson_lucy",
    "sparse_deconvolve",
    "wiener",
]
