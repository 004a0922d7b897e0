"""Wiener deconvolution: a reusable filter object and a one-call function."""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..engine.arrays import to_host
from ..engine.kernels import check_kernel
from ..engine.otf import transfer_function
from ..engine.pipeline import FourierFilter, raise_if_not_finite
from . import parameters, unknown_boundary

__all__ = ["Wiener", "wiener", "LAPLACIAN"]

#: scikit-image's default regulariser: a discrete Laplacian.
LAPLACIAN = np.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], dtype=np.float64)


def check_snr(snr, *, allow_auto: bool = True):
    if allow_auto and isinstance(snr, str) and snr == "auto":
        return "auto"
    if isinstance(snr, bool) or not isinstance(snr, numbers.Real):
        raise TypeError(f"snr must be a positive number or 'auto', got {snr!r}")
    snr = float(snr)
    if not (math.isfinite(snr) and snr > 0):
        raise ValueError(f"snr must be finite and > 0 (eps = 1/snr), got {snr!r}")
    return snr


def _check_unknown(border, snr, iterations) -> int | None:
    """Conjugate-gradient steps on the unknown-boundary problem: for
    ``border="unknown"`` (default 40) and ``"harmonic"`` (default 0: the
    extension alone); they need a numeric snr.

    One step on top of the extension gains 0.1-1 dB at the frame's edges on
    long motion but loses up to 4 dB on compact camera shakes
    (``benchmarks/borders.py``), costs about 2x the time of the filter, and a
    tiled (dask) result no longer matches the whole-image one: so it is asked
    for, not the default."""
    if border not in ("harmonic", "unknown"):
        if iterations is not None:
            raise ValueError(
                f"iterations applies to border='harmonic' or 'unknown' only, got border={border!r}"
            )
        return None
    if iterations is None:
        if snr == "auto":
            if border == "unknown":
                raise ValueError("border='unknown' needs a numeric snr, got snr='auto'")
            return 0
        return unknown_boundary.ITERATIONS if border == "unknown" else 0
    iterations = unknown_boundary.check_iterations(iterations)
    if iterations and snr == "auto":
        raise ValueError(f"iterations={iterations} needs a numeric snr, got snr='auto'")
    return iterations


def _check_reg(reg):
    if reg is None:
        return None
    if isinstance(reg, str):
        if reg != "laplacian":
            raise ValueError(f"reg must be None, 'laplacian' or a 2-D kernel, got {reg!r}")
        return LAPLACIAN
    return check_kernel(reg, argname="reg")


class Wiener(FourierFilter):
    """A Wiener deconvolution filter planned once and applied to many frames.

    ``Wiener(psf, **options)(frames)`` equals ``wiener(frames, psf, **options)``;
    the object caches the filter per frame shape, device and precision, so a
    stream of same-sized frames pays for the PSF's transform once.

    Parameters
    ----------
    psf : (k_r, k_c) array_like
        The blur kernel, normalised to sum 1 here; its centre pixel is
        ``(k_r // 2, k_c // 2)``.
    snr : float
        Signal-to-noise power ratio; ``1 / snr`` is the seed thread's ``eps``
        (MATLAB ``deconvwnr``'s NSR). 100 is a good start; larger is sharper
        and noisier.
    reg : None, "laplacian" or (k_r, k_c) array_like
        Regulariser ``R``; None means ``R = 1``.
    border : {"harmonic", "reflect", "edgetaper", "circular", "unknown"}
    pad : int or (int, int), optional
        With ``border="harmonic"``, ``"reflect"`` or ``"unknown"``, at least
        this many pixels of padding on every
        side (default: the PSF's extent); the padded frame is then rounded up
        to fast FFT lengths.
    channel_axis : int, optional
    backend : {"auto", "numpy", "cupy"}
    precision : {None, "single", "double"}
    max_memory : int, optional
        Working-memory budget in bytes for one chunk of frames (default
        48 MiB on the CPU, where cache-sized chunks are fastest, and half the
        free memory on a GPU; ``$GPUDECONV_MAX_MEMORY`` overrides the
        default). Results do not depend on it.

    See :func:`wiener` for the layout, dtype and device rules.
    """

    def __init__(self, psf, *, snr=100.0, reg=None, iterations=None, **options):
        super().__init__(psf, **options)
        self.snr = check_snr(snr)
        self.reg = _check_reg(reg)
        self.iterations = _check_unknown(self.border, self.snr, iterations)
        if self.iterations:
            # Spectrum, residual, direction and its spectrum, products: one
            # step keeps fewer of them alive.
            self.frames_of_memory = 7 if self.iterations == 1 else 10

    @property
    def last_snr(self):
        """The snr used for each frame of this thread's last call (chosen per
        frame with ``snr="auto"``): the image's shape without its spatial
        axes, channels last. Kept per thread, so a shared filter is safe."""
        call = self.last_call
        return None if call is None else call.results.get("snr")

    @property
    def auto(self) -> bool:
        return self.snr == "auto"

    def _regulariser_power(self, backend, padded):
        if self.reg is None:
            return None
        r = transfer_function(backend, self.reg, padded)
        return r.real**2 + r.imag**2

    def transfer(self, backend, padded):
        h = transfer_function(backend, self.psf, padded)
        if self.auto:
            return h  # the filter is made per frame, in _filter
        power = h.real**2 + h.imag**2
        reg = self._regulariser_power(backend, padded)
        nsr = 1.0 / self.snr if reg is None else reg / self.snr
        return backend.xp.conj(h) / (power + nsr)

    # -- snr="auto": chosen per frame (see methods.parameters) -------------
    def _plan_extra(self, backend, plan, work):
        if self.iterations:
            unknown_boundary.plan_unknown(backend, plan, self.psf)
        if not self.auto:
            return
        xp = backend.xp
        h = plan.transfer
        plan.extra["conj_h"] = xp.conj(h)
        plan.extra["h_power"] = (h.real**2 + h.imag**2).astype(work)
        reg = self._regulariser_power(backend, plan.padding.padded)
        plan.extra["r_power"] = None if reg is None else reg.astype(work)
        if reg is None and self.border != "circular":
            return
        # A regulariser changes what snr means, and a circular frame has no
        # border error to hide: there the discrepancy principle chooses, on
        # frequencies binned by |H|**2 / |R|**2.
        padded = plan.padding.padded
        reg = xp.ones_like(plan.extra["h_power"]) if reg is None else reg
        with np.errstate(divide="ignore", invalid="ignore"):
            q = to_host(plan.extra["h_power"]).astype(np.float64) / to_host(reg)
        cols = np.arange(q.shape[1])
        # Columns 1 .. N/2 - 1 of a real FFT stand for two frequencies each.
        weight = np.where((cols == 0) | (2 * cols == padded[1]), 1.0, 2.0)
        plan.extra["discrepancy"] = parameters.Discrepancy(xp, q, weight, padded[0] * padded[1])

    def _apply(self, backend, plan, chunk, work, check_finite, offset, index=()):
        if not self.iterations or plan.padding.padded == plan.padding.shape:
            return super()._apply(backend, plan, chunk, work, check_finite, offset, index)
        buffer = self._prepare(backend, plan, chunk, work)
        if check_finite:
            raise_if_not_finite(backend.xp, buffer.sum(axis=(-2, -1), keepdims=True), chunk)
        return unknown_boundary.restore_unknown(backend, plan, buffer, self.iterations, offset)

    def _start_call(self, batch_shape):
        self._results["snr"] = (
            np.empty(batch_shape) if self.auto else np.full(batch_shape, self.snr)
        )

    def _filter(self, backend, plan, spectrum, chunk, index):
        if not self.auto:
            spectrum *= plan.transfer
            return
        xp = backend.xp
        r_power = plan.extra["r_power"]
        discrepancy = plan.extra.get("discrepancy")
        if discrepancy is None:
            nsr = 1.0 / parameters.wiener_snr(xp, chunk)
        else:
            nsr = parameters.discrepancy_nsr(xp, discrepancy, spectrum, chunk, self.border)
        self._results["snr"][index] = to_host(1.0 / nsr)
        nsr = nsr.astype(plan.extra["h_power"].dtype)[..., None, None]
        denominator = plan.extra["h_power"] + (nsr if r_power is None else nsr * r_power)
        spectrum *= plan.extra["conj_h"] / denominator

    def __repr__(self) -> str:
        reg = None if self.reg is None else f"array{self.reg.shape}"
        snr = repr(self.snr) if self.auto else f"{self.snr:g}"
        return (
            f"Wiener(psf=array{self.psf.shape}, snr={snr}, reg={reg}, "
            f"border={self.border!r}, pad={self.pad}, channel_axis={self.channel_axis}, "
            f"backend={self.backend!r}, precision={self.precision!r})"
        )


def wiener(
    image,
    psf,
    *,
    snr: float = 100.0,
    reg=None,
    border: str = "harmonic",
    pad=None,
    channel_axis: int | None = None,
    backend: str = "auto",
    precision: str | None = None,
    max_memory: int | None = None,
    device: int | None = None,
    iterations: int | None = None,
    return_snr: bool = False,
):
    r"""Restore ``image`` blurred by ``psf`` with a Wiener filter.

    Parameters
    ----------
    image : (..., M, N) or (..., M, N, C) array
        NumPy or CuPy array. The spatial axes are the last two axes that are
        not ``channel_axis``; every other axis is a batch axis: ``(M, N)``,
        ``(F, M, N)``, ``(M, N, 3)`` with ``channel_axis=-1``,
        ``(F, 3, M, N)`` with ``channel_axis=1``. Never modified.
    psf : (k_r, k_c) array_like
        The blur, applied as a convolution; normalised to sum 1.
    snr : float or "auto", default 100
        Signal-to-noise ratio; the filter uses ``eps = 1 / snr``. ``"auto"``
        chooses it for each frame from the estimated noise
        (:func:`gpudeconv.estimate_noise`) relative to the frame's peak, with
        a floor for what that estimate cannot see (the borders' model error,
        quantisation): ``0.88 / sqrt((sigma / peak)**2 + 0.0016**2)``, at
        most 550 on a noise-free frame. With a regulariser or
        ``border="circular"`` (no border error to allow for), by the
        discrepancy principle instead. Scale-free: scaling the
        intensities does not change it. See :mod:`gpudeconv.methods.parameters`
        for the measurements behind it.
    reg : None, "laplacian" or (k_r, k_c) array_like
        ``None``: ``R = 1`` (MATLAB ``deconvwnr``). ``"laplacian"``: the
        transfer function of ``[[0,-1,0],[-1,4,-1],[0,-1,0]]``
        (scikit-image's ``wiener`` with ``balance = 1 / snr``). An array is
        used as the regulariser kernel.
    border : {"harmonic", "reflect", "edgetaper", "circular", "unknown"}, default "harmonic"
        ``"harmonic"`` extends the frame by ``pad`` pixels per side (rounded
        up to fast FFT lengths) with the smooth periodic function that
        continues its edges (:mod:`gpudeconv.engine.extension`); for a motion
        blur, the edges are also carried along the motion into the padding
        (:mod:`gpudeconv.engine.directional`); it restores and crops.
        ``iterations=1`` adds one conjugate-gradient step towards
        ``"unknown"`` (with a numeric ``snr``). ``"reflect"`` mirrors every side
        instead (edge pixel repeated). ``"unknown"`` treats the scene outside
        the frame as unknown: the regularised least-squares problem with only
        the frame's pixels in the data term, solved by conjugate gradients
        (:mod:`.unknown_boundary`); needs a numeric ``snr``; several times
        slower, the best at the edges.
        ``"edgetaper"`` blends the edges with their blur (MATLAB
        ``edgetaper``) and filters circularly. ``"circular"`` assumes the frame
        is periodic.
    pad : int or (int, int), optional
        Minimum padding per side for ``"harmonic"``, ``"reflect"`` and
        ``"unknown"``; default: twice the PSF's extent for ``"harmonic"``,
        the PSF's extent for the others.
    channel_axis : int, optional
        Axis holding colour channels; each channel gets the same filter.
    backend : {"auto", "numpy", "cupy"}, default "auto"
        ``"auto"`` keeps CuPy arrays on the GPU, sends NumPy arrays to the GPU
        when one is usable, otherwise computes with NumPy;
        ``$GPUDECONV_BACKEND`` overrides it.
    precision : {None, "single", "double"}
        Overrides the computation precision (not the output dtype).
    max_memory : int, optional
        Working-memory budget in bytes; large batches are processed in chunks
        (halved and retried if the GPU runs out of memory anyway).
    device : int, optional
        The GPU to compute on (default: the one holding a CuPy input, else
        the current one); ignored on the CPU.
    iterations : int, optional
        Conjugate-gradient iterations for ``border="unknown"`` (default 40;
        it stops earlier once converged) and ``"harmonic"`` (default 0, the
        extension alone; 1 gains 0.1-1 dB at the edges for about 2x the time).
    return_snr : bool
        Also return the snr used for each frame (chosen per frame with
        ``"auto"``): a NumPy array, the image's shape without its spatial
        axes, channels last.

    Returns
    -------
    restored : array
        Same shape and device as ``image`` (NumPy in, NumPy out, even when
        computed on the GPU). Integer images are computed in float32 and
        returned in their own dtype, rounded and clipped to its range; float32
        and float64 are returned as they came (unclipped); float16 comes back
        as float32.

    Raises
    ------
    TypeError
        Boolean, complex or object images; non-numeric parameters.
    ValueError
        NaN/Inf pixels, empty or 1-D images, bad PSF, ``snr <= 0``, unknown
        ``border``/``backend``, negative ``pad``, ``channel_axis`` out of range.
    RuntimeError
        ``backend="cupy"`` without a usable GPU.

    Notes
    -----
    With ``H`` the PSF's transfer function (centred at the origin, see
    :func:`gpudeconv.otf`) and ``R`` the regulariser's, each frame ``y`` is
    restored as

    .. math:: \hat x = \mathcal{F}^{-1}\left[
              \frac{H^*}{|H|^2 + |R|^2 / \mathrm{snr}} \, \mathcal{F}[y]\right]

    using real FFTs, so the result is real by construction (no ``abs()`` of a
    complex inverse).

    References
    ----------
    .. [1] MATLAB ``deconvwnr``, ``edgetaper``, ``psf2otf``.
    .. [2] scikit-image ``skimage.restoration.wiener``.

    Examples
    --------
    >>> import numpy as np
    >>> from gpudeconv import blur, wiener, psf
    >>> rng = np.random.default_rng(0)
    >>> sharp = rng.random((64, 64))
    >>> k = psf.gaussian(1.0)
    >>> restored = wiener(blur(sharp, k, border="circular"), k, snr=1e6,
    ...                   border="circular", backend="numpy")
    >>> bool(np.abs(restored - sharp).mean() < 0.05)
    True
    """
    filt = Wiener(
        psf,
        snr=snr,
        reg=reg,
        border=border,
        pad=pad,
        channel_axis=channel_axis,
        backend=backend,
        precision=precision,
        max_memory=max_memory,
        device=device,
        iterations=iterations,
    )
    restored = filt(image)
    if return_snr:
        return restored, filt.last_call.results["snr"]
    return restored
