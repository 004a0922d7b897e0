"""Deconvolution methods and the forward model, each a
:class:`~gpudeconv.engine.pipeline.FourierFilter` (plan once, apply many):
Wiener, Richardson-Lucy, sparse (total variation), blur and edgetaper."""
