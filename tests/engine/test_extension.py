"""The harmonic border against a float64 reference and its properties."""

import numpy as np
import pytest
from conftest import larger_scene_crop, psnr
from skimage.registration import phase_cross_correlation

import gpudeconv
from gpudeconv.engine.arrays import to_host
from gpudeconv.engine.borders import fast_length
from gpudeconv.engine.directional import DirectionalTables, principal_axis
from gpudeconv.engine.dispatch import resolve_backend
from gpudeconv.engine.extension import HarmonicExtension


def strip_reference(near, far, gap, basis, omega):
    """Harmonic strip between the rows ``near`` (t=0) and ``far`` (t=gap):
    expand both in ``basis`` (columns: basis functions), weight each term with
    the textbook sinh formula, sum back; no FFT."""
    a = np.linalg.lstsq(basis, near, rcond=None)[0]
    b = np.linalg.lstsq(basis, far, rcond=None)[0]
    rows = []
    for t in range(1, gap):
        wa = np.where(omega > 0, np.sinh(omega * (gap - t)) / np.sinh(omega * gap + 1e-300), 0)
        wb = np.where(omega > 0, np.sinh(omega * t) / np.sinh(omega * gap + 1e-300), 0)
        wa = np.where(omega == 0, 1 - t / gap, wa)
        wb = np.where(omega == 0, t / gap, wb)
        rows.append(basis @ (wa * a + wb * b))
    return np.array(rows).reshape(gap - 1, -1)


def harmonic_reference(x, padded):
    """The harmonic extension, one frame, float64: rows after the frame in a
    cosine basis along the row, then columns after it in a Fourier basis
    along the (now periodic) padded column."""
    rows, cols = x.shape
    out = np.zeros(padded)
    out[:rows, :cols] = x
    j = np.arange(cols)
    k = np.arange(cols)
    cosines = np.cos(np.pi * np.outer(j + 0.5, k) / cols)
    gap = padded[0] - rows + 1
    if gap > 1:
        out[rows:, :cols] = strip_reference(x[-1], x[0], gap, cosines, np.pi * k / cols)
    n = padded[0]
    f = np.arange(n // 2 + 1)
    phase = 2 * np.pi * np.outer(np.arange(n), f) / n
    basis = np.concatenate([np.cos(phase), np.sin(phase[:, 1:])], axis=1)
    omega = 2 * np.pi * np.concatenate([f, f[1:]]) / n
    # Drop the sine at the Nyquist frequency (identically zero at the samples).
    keep = np.abs(basis).max(axis=0) > 1e-9
    gap = padded[1] - cols + 1
    if gap > 1:
        strip = strip_reference(out[:, cols - 1], out[:, 0], gap, basis[:, keep], omega[keep])
        out[:, cols:] = strip.T
    return out


@pytest.mark.parametrize(
    "shape, padded", [((20, 17), (30, 27)), ((9, 12), (16, 15)), ((8, 8), (9, 8))]
)
def test_matches_float64_reference(backend, shape, padded):
    rng = np.random.default_rng(1)
    frames = rng.random((3, *shape))
    b = resolve_backend(backend, frames)
    buffer = b.xp.empty((3, *padded))
    HarmonicExtension(b, shape, padded, np.float64).fill(b, b.asarray(frames), buffer)
    for i in range(3):
        np.testing.assert_allclose(
            to_host(buffer[i]), harmonic_reference(frames[i], padded), atol=1e-10
        )


def test_constant_frames_extend_constant_and_the_seam_is_smooth():
    b = resolve_backend("numpy", np.zeros(1))
    buffer = np.empty((40, 45))
    HarmonicExtension(b, (30, 30), (40, 45), np.float64).fill(b, np.full((30, 30), 3.0), buffer)
    np.testing.assert_allclose(buffer, 3.0, rtol=1e-12)
    ramp = np.add.outer(np.arange(30.0), np.zeros(30))  # rows 0..29
    HarmonicExtension(b, (30, 30), (40, 45), np.float64).fill(b, ramp, buffer)
    # Periodically, the padding steps from 29 down to 0 evenly: no jump.
    steps = np.diff(np.concatenate([buffer[:, 0], buffer[:1, 0]]))
    assert np.abs(steps).max() <= 29 / 10 + 1e-9


@pytest.mark.parametrize("length, angle", [(21, 30), (15, 120)])
def test_beats_reflect_on_a_larger_scene_and_does_not_shift(peppers, length, angle):
    kernel = gpudeconv.psf.motion(length, angle)
    sharp, blurred = larger_scene_crop(peppers, kernel)
    best = {}
    for border in ("harmonic", "reflect"):
        best[border] = max(
            psnr(sharp, gpudeconv.wiener(blurred, kernel, snr=snr, border=border))
            for snr in (100, 300, 1000)
        )
    assert best["harmonic"] > best["reflect"] + 1.0, best
    restored = gpudeconv.wiener(blurred, kernel, snr=300)
    shift, _, _ = phase_cross_correlation(sharp, restored, upsample_factor=20)
    assert np.abs(shift).max() < 0.1


def test_default_border_is_harmonic_and_pad_applies(peppers):
    # A short blur: no axis long enough for the directional continuation.
    kernel = gpudeconv.psf.motion(5, 45)
    image = peppers[:60, :70].astype(np.float64)
    default = gpudeconv.wiener(image, kernel)
    np.testing.assert_array_equal(default, gpudeconv.wiener(image, kernel, border="harmonic"))
    padded = tuple(fast_length(n + 2 * 20) for n in image.shape)
    frame = harmonic_reference(image, padded)
    restored = gpudeconv.wiener(frame, kernel, border="circular")[:60, :70]
    extended = gpudeconv.wiener(image, kernel, pad=20, iterations=0)
    np.testing.assert_allclose(extended, restored, atol=1e-9)


@pytest.mark.parametrize("angle", [30, 120, 0, 90])
def test_motion_carries_the_edges_along_the_blur(backend, angle):
    """A frame constant along the motion (a ramp across it) is continued
    exactly along the motion wherever the line meets the frame: the padding
    is the cross-fade of that continuation into the harmonic extension."""
    kernel = gpudeconv.psf.motion(15, angle)
    (dr, dc), _ = principal_axis(kernel)
    shape, padded = (40, 52), (72, 90)
    r, c = np.indices(shape, dtype=np.float64)
    across = lambda r, c: 3.0 * (r * dc - c * dr) + 100  # noqa: E731
    frame = across(r, c)
    b = resolve_backend(backend, frame)
    carried = b.xp.empty(padded)
    HarmonicExtension(b, shape, padded, np.float64, psf=kernel).fill(b, b.asarray(frame), carried)
    plain = harmonic_reference(frame, padded)
    bands = DirectionalTables(shape, padded, (dr, dc)).bands
    weight = np.zeros(padded)
    weight[shape[0] :, : shape[1]] = bands[0][3]
    weight[:, shape[1] :] = bands[1][3]
    signed_r = np.where(np.arange(padded[0]) < shape[0] + 16, 0, padded[0])
    signed_c = np.where(np.arange(padded[1]) < shape[1] + 19, 0, padded[1])
    pr, pc = np.indices(padded, dtype=np.float64)
    expected_line = across(pr - signed_r[:, None], pc - signed_c[None, :])
    # Lines that meet the frame: their edge point has the same value.
    meets = _meets_frame(pr - signed_r[:, None], pc - signed_c[None, :], (dr, dc), shape)
    used = meets & (weight > 1e-3)
    assert used.sum() > 300
    got = plain + weight * (expected_line - plain)
    np.testing.assert_allclose(to_host(carried)[used], got[used], atol=1e-8)
    # Far from the frame the harmonic extension alone; the frame untouched.
    far = weight == 0
    far[: shape[0], : shape[1]] = False
    np.testing.assert_allclose(to_host(carried)[far], plain[far], atol=1e-8)
    np.testing.assert_array_equal(to_host(carried)[: shape[0], : shape[1]], frame)


def _meets_frame(r, c, direction, shape, steps=4001):
    """Brute force: does the line through (r, c) along ``direction`` pass
    within the frame's pixel centres?"""
    t = np.linspace(-200, 200, steps)
    inside = np.zeros(r.shape, bool)
    for chunk in np.array_split(t, 20):
        rr = r[..., None] + chunk * direction[0]
        cc = c[..., None] + chunk * direction[1]
        ok = (rr >= 0.05) & (rr <= shape[0] - 1.05) & (cc >= 0.05) & (cc <= shape[1] - 1.05)
        inside |= ok.any(axis=-1)
    return inside


@pytest.mark.parametrize("length, angle", [(31, 120), (41, 75)])
def test_long_motion_gains_over_the_harmonic_extension_alone(peppers, length, angle):
    kernel = gpudeconv.psf.motion(length, angle)
    sharp, blurred = larger_scene_crop(peppers, kernel, margin=60)
    padded = tuple(fast_length(n + 4 * max(kernel.shape)) for n in blurred.shape)
    b = resolve_backend("numpy", blurred)
    plain = np.empty(padded)
    HarmonicExtension(b, blurred.shape, padded, np.float64).fill(b, blurred, plain)
    best = {"plain": [], "default": []}
    for snr in (100, 300, 1000):
        circular = gpudeconv.wiener(plain, kernel, snr=snr, border="circular")
        best["plain"].append(psnr(sharp, circular[: blurred.shape[0], : blurred.shape[1]]))
        best["default"].append(psnr(sharp, gpudeconv.wiener(blurred, kernel, snr=snr)))
    assert max(best["default"]) > max(best["plain"]) + 0.3, best


def test_gpu_agrees_with_cpu(backend):
    rng = np.random.default_rng(5)
    frames = rng.integers(0, 256, (4, 50, 61, 3), dtype=np.uint8)
    kernel = gpudeconv.psf.motion(11, 30)
    options = dict(channel_axis=-1, snr=300)
    cpu = gpudeconv.wiener(frames, kernel, backend="numpy", **options)
    other = gpudeconv.wiener(frames, kernel, backend=backend, **options)
    assert np.abs(to_host(other).astype(int) - cpu).max() <= 1
