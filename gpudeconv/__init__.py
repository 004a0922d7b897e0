"""gpudeconv: Wiener deconvolution on the CPU (NumPy/SciPy) and NVIDIA GPUs (CuPy).

>>> import gpudeconv
>>> k = gpudeconv.psf.motion(31, 60)
>>> restored = gpudeconv.wiener(blurred, k, snr=100, channel_axis=-1)  # doctest: +SKIP
"""

from . import psf
from .deconvolve import deconvolve, make_deconvolver
from .engine.dispatch import available_backends
from .engine.otf import otf
from .estimate.psf import estimate_psf
from .estimate.result import PSFEstimate
from .methods.blur import Blur, blur
from .methods.edgetaper import edgetaper
from .methods.richardson_lucy import RichardsonLucy, richardson_lucy
from .methods.sparse import SparseDeconvolution, sparse_deconvolve
from .methods.wiener import Wiener, wiener
from .noise import estimate_noise

__version__ = "0.1.0"

__all__ = [
    "Blur",
    "PSFEstimate",
    "RichardsonLucy",
    "SparseDeconvolution",
    "Wiener",
    "available_backends",
    "blur",
    "deconvolve",
    "edgetaper",
    "estimate_noise",
    "estimate_psf",
    "make_deconvolver",
    "otf",
    "psf",
    "richardson_lucy",
    "sparse_deconvolve",
    "wiener",
]
