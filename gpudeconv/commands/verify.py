"""``gpudeconv verify``: does the GPU give the CPU's answer?

Identical inputs, drawn on the host, go through the NumPy backend (the
reference) and the CuPy backend, host to host and device-resident, for Wiener
(constant and automatic snr, every border), Richardson–Lucy and the sparse
prior; each case prints its largest difference against its tolerance:

- integer outputs: within 1 level (rounding of values that land on .5);
- float32: within 1e-4 of the reference's value range;
- float64: within 1e-10 of the reference's value range.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from .. import psf as psfs
from ..deconvolve import deconvolve
from ..engine.dispatch import cupy_usable
from . import options

DTYPES = (np.uint8, np.uint16, np.float32, np.float64)
DEFAULT_SIZES = ((64, 64), (257, 311), (1080, 1920))


def camera_shake_psf(size: int = 15, seed: int = 3) -> np.ndarray:
    """A deterministic, asymmetric camera-shake-like kernel (a random walk)."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(size=(4 * size, 2)).cumsum(axis=0) * 0.35
    steps -= steps.mean(axis=0)
    kernel = np.zeros((size, size))
    for r, c in np.clip(np.rint(steps + size // 2), 0, size - 1).astype(int):
        kernel[r, c] += 1
    return psfs.normalize(kernel)


PSFS: dict[str, Callable[[], np.ndarray]] = {
    "motion31@60": lambda: psfs.motion(31, 60),
    "gaussian2": lambda: psfs.gaussian(2.0),
    "shake15": camera_shake_psf,
}


@dataclass(frozen=True)
class Case:
    rows: int
    cols: int
    dtype: np.dtype
    colour: bool
    psf: str
    border: str = "reflect"
    method: str = "wiener"  # or "wiener-auto", "richardson_lucy", "sparse"

    def label(self) -> str:
        kind = "rgb" if self.colour else "grey"
        return (
            f"{self.rows}x{self.cols} {kind:4s} {np.dtype(self.dtype).name:7s} "
            f"{self.psf:12s} {self.border:9s} {self.method}"
        )

    def options(self) -> tuple[str, dict]:
        """(method, options) for :func:`gpudeconv.deconvolve`."""
        options = dict(border=self.border, channel_axis=-1 if self.colour else None)
        if self.method == "wiener":
            return "wiener", {**options, "snr": 100.0}
        if self.method == "wiener-auto":
            return "wiener", {**options, "snr": "auto"}
        return self.method, options


def cases(sizes: Iterable[tuple[int, int]] = DEFAULT_SIZES) -> list[Case]:
    out = []
    for (rows, cols), dtype, colour, name in itertools.product(sizes, DTYPES, (False, True), PSFS):
        out.append(Case(rows, cols, np.dtype(dtype), colour, name))
    for rows, cols in sizes:  # the other borders, once per size
        for border in ("circular", "edgetaper"):
            if min(rows, cols) > 2 * 31:
                out.append(Case(rows, cols, np.dtype(np.float32), True, "motion31@60", border))
    for (rows, cols), dtype, method in itertools.product(  # the other methods
        sizes, (np.uint8, np.float64), ("wiener-auto", "richardson_lucy", "sparse")
    ):
        out.append(Case(rows, cols, np.dtype(dtype), True, "shake15", method=method))
    return out


def test_image(case: Case, seed: int = 0) -> np.ndarray:
    """A photograph-like input: the built-in photo resized, plus noise, in
    the case's dtype and range."""
    from .demo import builtin_image

    photo = cv2.resize(builtin_image(), (case.cols, case.rows), interpolation=cv2.INTER_AREA)
    if not case.colour:
        photo = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    rng = np.random.default_rng(seed)
    unit = photo.astype(np.float64) / 255 + rng.normal(0, 0.01, photo.shape)
    unit = np.clip(unit, 0, 1)
    if np.dtype(case.dtype).kind == "u":
        return np.rint(unit * np.iinfo(case.dtype).max).astype(case.dtype)
    return unit.astype(case.dtype)


def tolerance(dtype, reference: np.ndarray) -> float:
    dtype = np.dtype(dtype)
    if dtype.kind in "ui":
        return 1.0
    value_range = float(reference.max() - reference.min()) or 1.0
    return (1e-4 if dtype == np.float32 else 1e-10) * value_range


@dataclass
class Result:
    case: Case
    max_diff: float
    tol: float

    @property
    def ok(self) -> bool:
        return self.max_diff <= self.tol


def compare(case: Case, candidate: str = "cupy", reference: str = "numpy") -> Result:
    image = test_image(case)
    kernel = PSFS[case.psf]()
    method, options = case.options()
    expected = deconvolve(image, kernel, method, backend=reference, **options)
    expected = np.asarray(expected, np.float64)
    outputs = [deconvolve(image, kernel, method, backend=candidate, **options)]  # host to host
    if candidate == "cupy":  # and device-resident: CuPy in, CuPy out
        import cupy

        resident = deconvolve(cupy.asarray(image), kernel, method, backend=candidate, **options)
        outputs.append(resident.get())
    diff = max(float(np.abs(np.asarray(got, np.float64) - expected).max()) for got in outputs)
    return Result(case, diff, tolerance(case.dtype, expected))


def run_verify(
    sizes: Iterable[tuple[int, int]] = DEFAULT_SIZES,
    *,
    backend: str = "auto",
    candidate: str = "cupy",
    log: Callable[[str], None] = print,
) -> int:
    """Compare every case; print a line each and a summary. Returns the exit
    status: 0 when every case is within tolerance (or when there is no GPU and
    none was demanded), 1 otherwise."""
    if candidate == "cupy" and not cupy_usable():
        log("gpudeconv verify: no usable GPU (CuPy with a CUDA device): nothing to compare")
        return 1 if backend == "cupy" else 0
    results = []
    for case in cases(sizes):
        result = compare(case, candidate)
        results.append(result)
        verdict = "ok  " if result.ok else "FAIL"
        log(
            f"{verdict} {case.label()}  max diff {result.max_diff:.3g} (tolerance {result.tol:.3g})"
        )
    failed = [r for r in results if not r.ok]
    log(
        f"gpudeconv verify: {len(results) - len(failed)}/{len(results)} cases within "
        f"tolerance ({candidate} against numpy)"
    )
    return 1 if failed else 0


def register(sub, parents) -> None:
    """Add the ``verify`` subcommand; ``parents`` are the restore options (for the
    commands that restore) and ``--debug``."""
    verify = sub.add_parser(
        "verify",
        parents=parents[-1:],
        help="check that the GPU (CuPy) gives the CPU's (NumPy's) answer",
        description="Run identical inputs through NumPy and CuPy (uint8, uint16, float32, "
        "float64; grey and colour; several sizes and PSFs) and print the largest difference "
        "per case. Tolerances: integers within 1 level, float32 within 1e-4 and float64 "
        "within 1e-10 of the CPU result's value range. Exit status 0 only when all hold.",
    )
    verify.add_argument(
        "--backend",
        default="auto",
        choices=("auto", "cupy"),
        help="cupy: fail (exit 1) when no GPU is usable; auto (default): say so and exit 0",
    )
    verify.add_argument(
        "--sizes",
        nargs="+",
        type=options.size,
        metavar="ROWSxCOLS",
        help="frame sizes (default: 64x64 257x311 1080x1920)",
    )
    verify.set_defaults(run=run)


def run(args) -> int:
    return run_verify(args.sizes or DEFAULT_SIZES, backend=args.backend)
