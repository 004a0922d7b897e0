"""`gpudeconv doctor`: what it reports and advises, and its exit status."""

import json

import numpy as np
import pytest
import scipy
from conftest import run_gpudeconv

from gpudeconv.commands import doctor
from gpudeconv.engine.dispatch import cupy_usable


def test_json_report_on_this_machine():
    result = run_gpudeconv("doctor", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["cpu_ok"] and report["cpu_error"] is None
    assert report["numpy"] == np.__version__ and report["scipy"] == scipy.__version__
    # run_gpudeconv sets GPUDECONV_BACKEND=numpy
    assert report["auto_backend"] == "numpy" and report["backend_env"] == "numpy"


def test_text_report_is_a_few_lines():
    result = run_gpudeconv("doctor")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert 5 <= len(lines) <= 20
    assert lines[0].startswith("gpudeconv ") and "NumPy" in lines[0] and "OpenCV" in lines[0]
    assert "CPU path: works" in lines
    assert 'backend "auto" uses: numpy' in lines


@pytest.mark.skipif(cupy_usable(), reason="checks the behaviour without a GPU")
def test_require_gpu_fails_without_one():
    result = run_gpudeconv("doctor", "--require-gpu")
    assert result.returncode == doctor.EXIT_NO_GPU
    assert "no usable GPU" in result.stderr and "gpudeconv[cuda12]" in result.stderr


def test_versions_and_wheels_by_driver():
    assert doctor.cuda_version(12040) == "12.4" and doctor.cuda_version(13000) == "13.0"
    assert doctor.cuda_version(None) is None
    assert doctor.wheel_for_driver(12020) == "cuda12"
    assert doctor.wheel_for_driver(13010) == "cuda13"
    assert doctor.wheel_for_driver(11080) is None and doctor.wheel_for_driver(None) is None


def report(**changes):
    base = {
        "cpu_error": None,
        "cupy_wheels": [],
        "driver_number": None,
        "driver": None,
        "gpu_error": None,
        "backend_env": None,
        "auto_backend": "numpy",
        "gpu_usable": False,
    }
    base.update(changes)
    base["driver"] = doctor.cuda_version(base["driver_number"])
    return base


def test_advice():
    assert doctor.advice(report()) == []  # a CPU-only machine needs nothing
    (fix,) = doctor.advice(report(driver_number=12040))
    assert 'pip install "gpudeconv[cuda12]"' in fix
    (fix,) = doctor.advice(report(driver_number=13000))
    assert 'pip install "gpudeconv[cuda13]"' in fix
    (fix,) = doctor.advice(report(driver_number=11040))
    assert "update the driver" in fix
    (fix,) = doctor.advice(
        report(driver_number=12040, cupy_wheels=["cupy-cuda12x 14.0.1", "cupy-cuda13x 14.0.1"])
    )
    assert "pip uninstall -y cupy-cuda12x cupy-cuda13x" in fix and "[cuda12]" in fix
    (fix,) = doctor.advice(report(driver_number=12040, cupy_wheels=["cupy-cuda13x 14.0.1"]))
    assert "does not match the driver" in fix and "pip uninstall -y cupy-cuda13x" in fix
    (fix,) = doctor.advice(
        report(driver_number=12040, cupy_wheels=["cupy-cuda12x 14.0.1"], gpu_error="DLL")
    )
    assert "--force-reinstall" in fix
    (fix,) = doctor.advice(report(cupy_wheels=["cupy-cuda12x 14.0.1"]))
    assert "no NVIDIA driver answers" in fix
    (fix,) = doctor.advice(report(cpu_error="ImportError: scipy"))
    assert "CPU path fails" in fix
    (fix,) = doctor.advice(report(backend_env="numpy", gpu_usable=True))
    assert "GPUDECONV_BACKEND=numpy" in fix


def test_exit_status_when_the_cpu_path_fails(monkeypatch, capsys):
    monkeypatch.setattr(doctor, "check_cpu", lambda: "ImportError: broken")
    assert doctor.run(type("Args", (), {"json": False, "require_gpu": False})()) == 1
    assert "CPU path: FAILS: ImportError: broken" in capsys.readouterr().out
