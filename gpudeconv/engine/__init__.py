"""The array engine: backends (NumPy, CuPy), the shared Fourier-filter frame
pipeline, frames and dtypes, chunking, borders and transfer functions, and the
host-to-device streaming (:mod:`.streaming`) with its simulated device
(:mod:`.devices`) for testing it without a GPU.

The engine knows no files, no command line and no deconvolution method; the
methods build on :class:`~.pipeline.FourierFilter`.
"""
