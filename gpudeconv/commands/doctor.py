"""``gpudeconv doctor``: can this machine run gpudeconv, and on what?

Prints, in a few lines: the versions of Python, NumPy, SciPy and OpenCV;
whether the CPU path works; which CuPy wheel is installed; the CUDA driver and
runtime versions; each GPU with its memory; whether a small kernel compiles
and a cuFFT transform runs; which backend ``"auto"`` will use; and, when
something is missing or wrong, the command that fixes it.

A CPU-only machine is a valid set-up: the exit status is 0 whenever the CPU
path works, 1 when it does not, and 2 with ``--require-gpu`` when no GPU is
usable.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.metadata
import json
import platform
import sys

import numpy as np

from .. import __version__

EXIT_OK, EXIT_BROKEN, EXIT_NO_GPU = 0, 1, 2
_DRIVER_LIBRARIES = {"win32": ("nvcuda.dll",)}.get(sys.platform, ("libcuda.so.1", "libcuda.so"))


def cuda_version(number: int | None) -> str | None:
    """CUDA's packed version (12040) as text ("12.4")."""
    if not number:
        return None
    return f"{number // 1000}.{number % 1000 // 10}"


def driver_version() -> int | None:
    """The CUDA version the NVIDIA driver supports (e.g. 12040), or None
    without a driver; asked of the driver library itself, so it works
    without CuPy."""
    for name in _DRIVER_LIBRARIES:
        try:
            library = ctypes.CDLL(name)
        except OSError:
            continue
        version = ctypes.c_int(0)
        if library.cuDriverGetVersion(ctypes.byref(version)) == 0:
            return version.value
    return None


def wheel_for_driver(version: int | None) -> str | None:
    """The gpudeconv extra whose CuPy wheel this driver runs, or None when the
    driver is missing or too old for either."""
    if not version or version < 12000:
        return None
    return "cuda13" if version >= 13000 else "cuda12"


def _module_version(name: str) -> str | None:
    try:
        return importlib.import_module(name).__version__
    except Exception:
        return None


def cupy_wheels() -> list[str]:
    """Installed CuPy distributions as "name version" (more than one is a
    broken set-up: they overwrite each other's files)."""
    found = set()
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower()
        if name == "cupy" or name.startswith(("cupy-cuda", "cupy-rocm")):
            found.add(f"{name} {dist.version}")
    return sorted(found)


def check_cpu() -> str | None:
    """None when a small restoration on the CPU recovers its image, else why not."""
    try:
        from .. import psf
        from ..methods.blur import blur
        from ..methods.wiener import wiener

        sharp = np.random.default_rng(0).random((32, 32))
        kernel = psf.gaussian(1.0)
        blurred = blur(sharp, kernel, border="circular", backend="numpy")
        restored = wiener(blurred, kernel, snr=1e6, border="circular", backend="numpy")
        error = float(np.abs(restored - sharp).mean())
        return None if error < 0.05 else f"restoration off by {error:.3g} on average"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def check_gpu(report: dict) -> None:
    """Fill in CuPy's runtime, the GPUs, and whether a kernel and cuFFT run."""
    try:
        import cupy
    except Exception as exc:
        if report["cupy_wheels"]:
            report["gpu_error"] = f"import cupy failed: {type(exc).__name__}: {exc}"
        return
    report["cupy"] = cupy.__version__
    try:
        report["runtime"] = cuda_version(cupy.cuda.runtime.runtimeGetVersion())
        for index in range(cupy.cuda.runtime.getDeviceCount()):
            props = cupy.cuda.runtime.getDeviceProperties(index)
            name = props["name"]
            with cupy.cuda.Device(index):
                free, total = cupy.cuda.runtime.memGetInfo()
            report["gpus"].append(
                {
                    "index": index,
                    "name": name.decode() if isinstance(name, bytes) else str(name),
                    "memory_total_gib": round(total / 2**30, 1),
                    "memory_free_gib": round(free / 2**30, 1),
                }
            )
        if not report["gpus"]:
            return
        double = cupy.ElementwiseKernel("float32 x", "float32 y", "y = 2 * x + 1", "doctor")
        values = np.arange(8, dtype=np.float32)
        report["kernel_ok"] = bool(
            np.array_equal(double(cupy.asarray(values)).get(), 2 * values + 1)
        )
        planes = np.random.default_rng(1).random((2, 12, 10)).astype(np.float32)
        spectrum = cupy.fft.rfft2(cupy.asarray(planes)).get()
        report["fft_ok"] = bool(np.allclose(spectrum, np.fft.rfft2(planes), atol=1e-4))
    except Exception as exc:
        report["gpu_error"] = f"{type(exc).__name__}: {exc}"


def advice(report: dict) -> list[str]:
    """What to run to fix what ``report`` found missing or wrong."""
    fixes = []
    wheels = report["cupy_wheels"]
    extra = wheel_for_driver(report["driver_number"])
    install = f'pip install "gpudeconv[{extra}]"' if extra else None
    if report["cpu_error"]:
        fixes.append('the CPU path fails: pip install --force-reinstall "gpudeconv"')
    if len(wheels) > 1:
        names = " ".join(w.split()[0] for w in wheels)
        fixes.append(
            f"several CuPy wheels overwrite each other: pip uninstall -y {names}"
            + (f" && {install}" if install else "")
        )
    elif report["driver_number"] and report["driver_number"] < 12000:
        fixes.append(
            f"the NVIDIA driver supports CUDA {report['driver']} only; CuPy needs 12.0 or "
            'newer: update the driver (525 or newer), then pip install "gpudeconv[cuda12]"'
        )
    elif wheels and extra:
        wheel = wheels[0].split()[0]
        wanted = f"cupy-{extra}x"
        if wheel != wanted and wheel.startswith("cupy-cuda"):
            fixes.append(
                f"{wheel} does not match the driver (CUDA {report['driver']}): "
                f"pip uninstall -y {wheel} && {install}"
            )
        elif report["gpu_error"]:
            fixes.append(f"CuPy is installed but fails; reinstall it: {install} --force-reinstall")
    elif not wheels and install:
        fixes.append(f"an NVIDIA driver is present but CuPy is not: {install}")
    elif wheels and not report["driver_number"]:
        fixes.append(
            "CuPy is installed but no NVIDIA driver answers: install the driver for your GPU "
            "(without one, gpudeconv runs on the CPU)"
        )
    if report["backend_env"] and report["auto_backend"] == "numpy" and report["gpu_usable"]:
        fixes.append(f"GPUDECONV_BACKEND={report['backend_env']} keeps 'auto' on the CPU")
    return fixes


def gather() -> dict:
    import os

    from ..engine.dispatch import ENV_BACKEND, resolve_backend

    driver = driver_version()
    report = {
        "gpudeconv": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": _module_version("scipy"),
        "opencv": _module_version("cv2"),
        "cpu_error": check_cpu(),
        "cupy_wheels": cupy_wheels(),
        "cupy": None,
        "driver_number": driver,
        "driver": cuda_version(driver),
        "runtime": None,
        "gpus": [],
        "kernel_ok": None,
        "fft_ok": None,
        "gpu_error": None,
        "backend_env": os.environ.get(ENV_BACKEND) or None,
    }
    check_gpu(report)
    report["gpu_usable"] = bool(report["gpus"] and report["kernel_ok"] and report["fft_ok"])
    try:
        report["auto_backend"] = resolve_backend("auto").name
    except Exception as exc:
        report["auto_backend"] = f"error: {exc}"
    report["cpu_ok"] = report["cpu_error"] is None
    report["fixes"] = advice(report)
    return report


def _yes(value) -> str:
    return {True: "works", False: "FAILS", None: "not run"}[value]


def text(report: dict) -> list[str]:
    lines = [
        f"gpudeconv {report['gpudeconv']} | Python {report['python']} | NumPy "
        f"{report['numpy']} | SciPy {report['scipy']} | OpenCV {report['opencv'] or 'missing'}",
        f"CPU path: {'works' if report['cpu_ok'] else 'FAILS: ' + report['cpu_error']}",
        "CuPy: "
        + (", ".join(report["cupy_wheels"]) if report["cupy_wheels"] else "not installed")
        + (f" (imports as {report['cupy']})" if report["cupy"] else ""),
        f"CUDA: driver {report['driver'] or 'none found'}, runtime {report['runtime'] or '-'}",
    ]
    for gpu in report["gpus"]:
        lines.append(
            f"GPU {gpu['index']}: {gpu['name']}, {gpu['memory_total_gib']} GiB "
            f"({gpu['memory_free_gib']} GiB free)"
        )
    if report["gpus"]:
        lines.append(
            f"kernel compile: {_yes(report['kernel_ok'])}; cuFFT: {_yes(report['fft_ok'])}"
        )
    if report["gpu_error"]:
        lines.append(f"GPU error: {report['gpu_error']}")
    lines.append(f'backend "auto" uses: {report["auto_backend"]}')
    lines += [f"fix: {fix}" for fix in report["fixes"]]
    return lines


def register(sub, parents) -> None:
    doctor = sub.add_parser(
        "doctor",
        parents=parents,
        help="check the set-up: versions, CuPy, CUDA driver, GPUs, and how to fix what is missing",
        description="Check what gpudeconv can run on here. Exit status: 0 when the CPU path "
        "works (a CPU-only machine is a valid set-up), 1 when it does not, 2 with "
        "--require-gpu when no GPU is usable.",
    )
    doctor.add_argument("--json", action="store_true", help="print one JSON object")
    doctor.add_argument("--require-gpu", action="store_true", help="exit 2 unless a GPU is usable")
    doctor.set_defaults(run=run)


def run(args) -> int:
    report = gather()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print("\n".join(text(report)))
    if not report["cpu_ok"]:
        return EXIT_BROKEN
    if args.require_gpu and not report["gpu_usable"]:
        print(
            "gpudeconv doctor: no usable GPU (--require-gpu); needs an NVIDIA GPU, its "
            'driver and CuPy: pip install "gpudeconv[cuda12]" (or [cuda13])',
            file=sys.stderr,
        )
        return EXIT_NO_GPU
    return EXIT_OK
