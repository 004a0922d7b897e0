"""What ``gpudeconv bench`` says before it measures: a skipped GPU and why, and
how long a long run will take."""

import pytest
from conftest import run_gpudeconv

from gpudeconv.commands import bench
from gpudeconv.engine.dispatch import cupy_usable


@pytest.mark.skipif(cupy_usable(), reason="a GPU is usable here")
def test_a_skipped_gpu_is_said_with_its_reason():
    reason = bench.gpu_skip_reason()
    assert reason and ("CuPy" in reason)
    result = run_gpudeconv(
        "bench", "--sizes", "512", "--batch-sizes", "1", "--repeat", "1", "--no-baselines"
    )
    assert result.returncode == 0, result.stderr
    assert f"gpudeconv bench: GPU skipped: {reason}" in result.stderr.splitlines()
    assert "will take about" not in result.stderr  # a short run says nothing more


def test_the_estimate_scales_with_the_work():
    # One probe per call, so compare ratios within a call's scale: 4k has
    # 31.6 times the pixels of 512, and each size's frames are counted.
    small = bench.estimate_seconds(["512"], [1], repeat=1, baselines=False)
    assert small > 0
    both = bench.estimate_seconds(["512", "4k"], [1, 8], repeat=3, baselines=True)
    frames_512 = (1 + 8) * (3 + 1) + bench.BASELINE_SLOWDOWN * 2
    per_frame = small / 2  # one frame, timed once after a warm-up
    expected = frames_512 * (1 + 2160 * 3840 / 512**2) * per_frame
    assert 0.2 < both / expected < 5  # the two probes differ by timing noise only
