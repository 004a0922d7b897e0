"""snr="auto" on video: per-frame choices smoothed over time, restarted at cuts."""

import numpy as np
import pytest
from video_clips import KERNEL, scene

import gpudeconv
from gpudeconv.commands.video_snr import SmoothedAutoWiener, SnrSmoother, scene_cuts, thumbnails

PSF = gpudeconv.psf.from_spec(KERNEL)


def noisy_shot(frames, sigma, seed):
    """The frames blurred, with fresh noise in each (as a camera gives)."""
    rng = np.random.default_rng(seed)
    out = []
    for frame in frames:
        blurred = gpudeconv.blur(frame.astype(float), PSF, channel_axis=-1, backend="numpy")
        out.append(np.clip(blurred + rng.normal(0, sigma, frame.shape), 0, 255).round())
    return np.stack(out).astype(np.uint8)


def test_smoother_is_an_exponential_average_in_log_snr():
    values = np.array([[100.0, 10.0], [200.0, 10.0], [150.0, 40.0], [3000.0, 40.0]])
    expected, state = [], np.log(values[0])
    for i, v in enumerate(np.log(values)):
        if i:
            jump = np.abs(v - state) > np.log(10)
            state = np.where(jump, v, state + 0.25 * (v - state))
        expected.append(np.exp(state))
    smoother = SnrSmoother()
    got = np.concatenate([smoother(values[:2]), smoother(values[2:])])  # across batches
    np.testing.assert_allclose(got, expected)
    assert got[3, 0] == pytest.approx(3000)  # 15x the running value: starts afresh
    np.testing.assert_allclose(SnrSmoother()(values, cuts=[0, 0, 1, 0])[2], values[2])
    with pytest.raises(ValueError, match="alpha"):
        SnrSmoother(alpha=0)


def test_scene_cuts_find_a_new_shot_not_motion():
    moving = scene(12, rows=96, cols=128, step=3)
    other = [np.ascontiguousarray(np.rot90(f, 2)) for f in scene(4, rows=96, cols=128)]
    thumbs = thumbnails(np.stack(moving + other))
    assert thumbs.shape == (16, 6, 8)
    cuts = scene_cuts(thumbs)
    assert cuts.tolist() == [False] * 12 + [True, False, False, False]
    # Across batches: the last thumbnail of the batch before counts.
    assert scene_cuts(thumbs[12:13], thumbs[11]).tolist() == [True]
    flat = np.zeros((2, 4, 4))
    assert scene_cuts(flat).tolist() == [False, False]
    assert scene_cuts(np.stack([flat[0], flat[0] + 9])).tolist() == [False, True]


def test_static_shot_does_not_flicker_and_a_cut_resets():
    still = [scene(1, rows=96, cols=128)[0]] * 24
    shot = noisy_shot(still, sigma=4, seed=1)
    restorer = SmoothedAutoWiener(PSF, channel_axis=-1, backend="numpy")
    outputs = [restorer(shot[i : i + 8]) for i in range(0, 24, 8)]
    _, raw = gpudeconv.wiener(shot, PSF, snr="auto", channel_axis=-1, return_snr=True,
                              backend="numpy")  # fmt: skip
    smoothed = np.stack(restorer.history)
    raw_jitter = np.std(np.diff(np.log(raw), axis=0))
    smooth_jitter = np.std(np.diff(np.log(smoothed), axis=0))
    assert smooth_jitter < 0.5 * raw_jitter, (smooth_jitter, raw_jitter)
    # Each frame is restored with its smoothed value, channel by channel.
    restored = np.concatenate(outputs)
    assert restored.shape == shot.shape and restored.dtype == shot.dtype
    for i in (0, 13, 23):
        for c in range(3):
            reference = gpudeconv.wiener(shot[i, ..., c], PSF, snr=smoothed[i, c],
                                         backend="numpy")  # fmt: skip
            assert np.abs(reference.astype(int) - restored[i, ..., c]).max() <= 1
    # A new, much noisier shot: its first frame gets its own choice at once.
    other = noisy_shot([np.ascontiguousarray(np.rot90(still[0], 2))] * 2, sigma=16, seed=2)
    restorer(other)
    _, first = gpudeconv.wiener(other[:1], PSF, snr="auto", channel_axis=-1,
                                return_snr=True, backend="numpy")  # fmt: skip
    np.testing.assert_allclose(restorer.history[24], first[0])
