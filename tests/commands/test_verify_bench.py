"""`gpudeconv verify` and `gpudeconv bench`: reporting, without a GPU."""

import json
import subprocess
import sys

import numpy as np
import pytest

from gpudeconv.commands import bench, verify
from gpudeconv.engine.dispatch import cupy_usable

no_gpu = pytest.mark.skipif(cupy_usable(), reason="checks the behaviour without a GPU")


def run_cli(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "gpudeconv", *args], capture_output=True, text=True, timeout=timeout
    )


def test_tolerances():
    reference = np.array([0.0, 2.0])
    assert verify.tolerance(np.uint8, reference) == 1
    assert verify.tolerance(np.float32, reference) == pytest.approx(2e-4)
    assert verify.tolerance(np.float64, reference) == pytest.approx(2e-10)


def test_cases_cover_dtypes_colour_psfs_and_borders():
    cases = verify.cases([(64, 64), (100, 120)])
    assert {c.dtype for c in cases} == {np.dtype(t) for t in verify.DTYPES}
    assert {c.colour for c in cases} == {False, True}
    assert {c.psf for c in cases} == set(verify.PSFS)
    assert {c.border for c in cases} == {"reflect", "circular", "edgetaper"}
    assert {c.method for c in cases} == {"wiener", "wiener-auto", "richardson_lucy", "sparse"}


def test_test_images_are_identical_and_in_range():
    case = verify.Case(40, 50, np.dtype(np.uint16), True, "gaussian2")
    a, b = verify.test_image(case), verify.test_image(case)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.uint16 and a.shape == (40, 50, 3) and a.max() > 30000


def test_verify_reports_each_case_and_passes_on_agreement():
    lines = []
    status = verify.run_verify([(32, 40)], candidate="numpy", log=lines.append)
    assert status == 0
    assert len(lines) == len(verify.cases([(32, 40)])) + 1
    assert all(line.startswith("ok") for line in lines[:-1])
    assert "within tolerance" in lines[-1]


def test_verify_fails_and_names_the_case_on_disagreement(monkeypatch):
    real = verify.deconvolve

    def off_by_two_on_candidate(image, psf, method, backend, **options):
        out = real(image, psf, method, backend="numpy", **options)
        if backend == "numpy-candidate" and out.dtype == np.uint8:
            out = out.copy()
            first = int(out.flat[0])
            out.flat[0] = first + 2 if first < 200 else first - 2
        return out

    monkeypatch.setattr(verify, "deconvolve", off_by_two_on_candidate)
    lines = []
    status = verify.run_verify([(32, 40)], candidate="numpy-candidate", log=lines.append)
    assert status == 1
    failures = [line for line in lines if line.startswith("FAIL")]
    assert failures and all("uint8" in line for line in failures)


@no_gpu
def test_verify_without_gpu():
    lines = []
    assert verify.run_verify(log=lines.append) == 0
    assert verify.run_verify(backend="cupy", log=lines.append) == 1
    assert all("no usable GPU" in line for line in lines) and len(lines) == 2


@no_gpu
def test_verify_command_without_gpu():
    asked = run_cli("verify", "--backend", "cupy")
    assert asked.returncode == 1 and "no usable GPU" in asked.stdout
    assert len(asked.stdout.strip().splitlines()) == 1 and not asked.stderr
    auto = run_cli("verify")
    assert auto.returncode == 0 and "no usable GPU" in auto.stdout


def test_bench_on_cpu(tmp_path):
    lines = []
    report = bench.run_bench(["512"], [1, 2], ["numpy"], repeat=1, log=lines.append)
    methods = {(r["method"], r["batch"]) for r in report["rows"]}
    assert methods == {("gpudeconv", 1), ("gpudeconv", 2), ("seed", 1)}
    assert all(r["fps"] > 0 for r in report["rows"])
    table = bench.format_table(report)
    assert table.count("\n") == 1 + len(report["rows"]) and "x seed baseline" in table
    bench.write_json(report, tmp_path / "b.json")
    assert json.loads((tmp_path / "b.json").read_text())["rows"] == report["rows"]
    bench.write_plot(report, tmp_path / "b.png")
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"


def test_bench_frames_are_real_photo_tiles():
    frames = bench.frames("512", 2)
    assert frames.shape == (2, 512, 512, 3) and frames.dtype == np.uint8
    assert frames.std() > 20


@no_gpu
def test_bench_command_refuses_cupy_without_gpu():
    result = run_cli("bench", "--backends", "cupy", "--quick")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "no GPU" in result.stderr


def test_bench_command_rejects_bad_size():
    result = run_cli("bench", "--sizes", "8k")
    assert result.returncode == 2 and "invalid choice" in result.stderr
