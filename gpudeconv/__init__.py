"""gpudeconv: Wiener deconvolution on the CPU (NumPy/SciPy) and NVIDIA GPUs (CuPy).

>>> import gpudeconv
>>> k = gpudeconv.psf.motion(31, 60)
>>> restored = gpudeconv.wiener(blurred, k, snr=100, channel_axis=-1)  # doctest: +SKIP
"""

from . import psf
from ._backend import available_backends
from .blur import Blur, blur
from .borders import edgetaper
from .otf import otf
from .wiener import Wiener, wiener

__version__ = "0.1.0"

__all__ = [
    "Blur",
    "Wiener",
    "available_backends",
    "blur",
    "edgetaper",
    "otf",
    "psf",
    "wiener",
]
