"""Restoring a video's YUV planes: the same restoration as BGR frames, for less work."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from conftest import larger_scene_crop, psnr

import gpudeconv
from gpudeconv.commands.video_planes import PlaneRestorer, RemotePlanes
from gpudeconv.commands.video_snr import SmoothedAutoWiener
from gpudeconv.engine.dispatch import cupy_usable
from gpudeconv.engine.kernels import downscale
from gpudeconv.media.video_planes import ToPlanes, plane_format, planes_frame
from gpudeconv.media.video_read import SCALING

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
FMT = plane_format("yuv420p")
PSF = gpudeconv.psf.motion(15, 30)


def to_yuv(bgr, fmt=FMT):
    frame = av.VideoFrame.from_ndarray(bgr, format="bgr24")
    return ToPlanes(fmt)(frame.reformat(format=fmt.pix_fmt, interpolation=SCALING))


def to_bgr(luma, chroma, fmt=FMT):
    return planes_frame(luma, chroma, fmt).to_ndarray(format="bgr24", interpolation=SCALING)


def fixed(snr, backend="numpy"):
    def make_filter(psf, channel_axis):
        return gpudeconv.Wiener(psf, snr=snr, channel_axis=channel_axis, backend=backend)

    return make_filter


def blurred_photo(name="motorcycle.png", kernel=PSF, size=(180, 240)):
    """A crop of a shared colour photo blurred as a camera would (light from
    beyond the frame), 8-bit BGR; and the sharp crop."""
    photo = cv2.imread(str(DATA / "colour" / name))[: size[0] + 80, : size[1] + 80]
    pairs = [larger_scene_crop(photo[..., c], kernel) for c in range(3)]
    sharp = np.dstack([p[0] for p in pairs]).astype(np.uint8)
    blurred = np.clip(np.dstack([p[1] for p in pairs]), 0, 255).astype(np.uint8)
    return sharp, blurred


def test_each_plane_is_wiener_about_its_zero_level():
    _, blurred = blurred_photo()
    luma, chroma = to_yuv(blurred)
    out_luma, out_chroma = PlaneRestorer(fixed(100.0), PSF)(luma[None], chroma[None], FMT)
    assert out_luma.dtype == out_chroma.dtype == np.uint8
    assert out_luma.shape == (1, *luma.shape) and out_chroma.shape == (1, *chroma.shape)
    # Float64 references: luma about black (16) with the PSF, chroma about
    # neutral grey (128) with the PSF at half the sampling; clipped to the
    # legal range (or what the input reaches beyond it).
    ref = gpudeconv.wiener(luma - 16.0, PSF, snr=100.0, backend="numpy") + 16
    ref = np.clip(ref, min(16, luma.min()), max(235, luma.max())).round()
    assert np.abs(out_luma[0] - ref).max() <= 1
    small = downscale(PSF, 2, 2)
    for c in range(2):
        ref = gpudeconv.wiener(chroma[c] - 128.0, small, snr=100.0, backend="numpy") + 128
        ref = np.clip(ref, min(16, chroma[c].min()), max(240, chroma[c].max())).round()
        assert np.abs(out_chroma[0, c] - ref).max() <= 1


@pytest.mark.parametrize(
    "name, kernel",
    [("motorcycle.png", PSF), ("grace_hopper.jpg", gpudeconv.psf.gaussian(2.0))],
)
def test_as_good_as_restoring_bgr_frames_and_better_than_the_blurred(name, kernel):
    sharp, blurred = blurred_photo(name, kernel)
    # What a video holds: the blurred frame in 4:2:0.
    luma, chroma = to_yuv(blurred)
    decoded = to_bgr(luma, chroma)
    # BGR route: restore the decoded frame, encode it back to 4:2:0.
    bgr = gpudeconv.wiener(decoded, kernel, snr=100.0, channel_axis=-1, backend="numpy")
    bgr_route = to_bgr(*to_yuv(bgr))
    planes = PlaneRestorer(fixed(100.0), kernel)(luma[None], chroma[None], FMT)
    plane_route = to_bgr(planes[0][0], planes[1][0])
    ours, theirs = psnr(sharp, plane_route), psnr(sharp, bgr_route)
    assert ours > psnr(sharp, decoded) + 2
    assert ours > theirs - 0.15, (ours, theirs)


def test_super_whites_survive_and_overshoot_is_clipped_to_the_legal_range():
    luma = np.full((1, 64, 64), 250, np.uint8)  # above 235: kept as the input has it
    chroma = np.full((1, 2, 32, 32), 128, np.uint8)
    out_luma, out_chroma = PlaneRestorer(fixed(1e6), PSF)(luma, chroma, FMT)
    assert (out_luma == 250).all() and (out_chroma == 128).all()
    # A hard edge between legal black and white rings when restored: the
    # ringing is clipped at 16 and 235, as BGR restoration clips at 0 and 255.
    edge = np.where(np.arange(96) < 48, 16, 235).astype(np.uint8)
    blurred = gpudeconv.blur(np.tile(edge, (96, 1)), PSF, backend="numpy")[None]
    chroma = np.full((1, 2, 48, 48), 128, np.uint8)
    out_luma, _ = PlaneRestorer(fixed(1e4), PSF)(blurred, chroma, FMT)
    raw = gpudeconv.wiener(blurred[0] - 16.0, PSF, snr=1e4, backend="numpy") + 16
    assert raw.max() > 236 and raw.min() < 15  # it does overshoot
    assert out_luma.max() == 235 and out_luma.min() == 16


def test_ten_bit_planes_stay_in_their_range():
    fmt = plane_format("yuv420p10le")
    _, blurred = blurred_photo(size=(90, 120))
    frame = av.VideoFrame.from_ndarray(blurred.astype(np.uint16) * 257, format="bgr48le")
    luma, chroma = ToPlanes(fmt)(frame.reformat(format=fmt.pix_fmt, interpolation=SCALING))
    out_luma, out_chroma = PlaneRestorer(fixed(1e4), PSF)(luma[None], chroma[None], fmt)
    assert out_luma.dtype == np.uint16 and out_luma.max() <= 940 and out_luma.min() >= 64
    assert out_chroma.max() <= 960 and out_chroma.min() >= 64
    assert np.abs(out_luma.astype(int) - luma).max() > 40  # restored, not passed through


def test_snr_auto_is_chosen_on_luma_and_shared_by_chroma():
    _, blurred = blurred_photo(size=(90, 120))
    luma, chroma = to_yuv(blurred)
    lumas, chromas = np.stack([luma] * 5), np.stack([chroma] * 5)
    noise = np.random.default_rng(0).normal(0, 2, lumas.shape)
    lumas = np.clip(lumas + noise, 0, 255).astype(np.uint8)

    def make_filter(psf, channel_axis):
        return SmoothedAutoWiener(psf, channel_axis=channel_axis, backend="numpy")

    restorer = PlaneRestorer(make_filter, PSF, auto=True)
    restorer(lumas[:3], chromas[:3], FMT)
    restorer(lumas[3:], chromas[3:], FMT)
    assert len(restorer.history) == 5
    luma_auto = restorer.filters["luma"]
    (chroma_auto,) = (f for k, f in restorer.filters.items() if k[0] == "chroma")
    # The chroma planes were restored with exactly the luma's values.
    assert set(chroma_auto.filters) <= set(luma_auto.filters) and chroma_auto.filters
    assert len(chroma_auto.history) == 0  # never chose on chroma


def test_fixed_snr_restorer_is_safe_to_share_between_threads():
    _, blurred = blurred_photo(size=(90, 120))
    luma, chroma = to_yuv(blurred)
    batches = [(np.roll(luma, k, 1)[None], np.roll(chroma, k, 2)[None]) for k in range(8)]
    restorer = PlaneRestorer(fixed(100.0), PSF)
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda b: restorer(*b, FMT), batches))
    alone = [PlaneRestorer(fixed(100.0), PSF)(*b, FMT) for b in batches]
    for (a_luma, a_chroma), (b_luma, b_chroma) in zip(together, alone, strict=True):
        np.testing.assert_array_equal(a_luma, b_luma)
        np.testing.assert_array_equal(a_chroma, b_chroma)


@pytest.mark.gpu
@pytest.mark.skipif(not cupy_usable(), reason="CuPy with a CUDA device is not available")
def test_gpu_planes_match_the_cpu():
    import cupy

    _, blurred = blurred_photo()
    luma, chroma = to_yuv(blurred)
    cpu = PlaneRestorer(fixed(100.0), PSF)(luma[None], chroma[None], FMT)
    gpu = PlaneRestorer(fixed(100.0, "cupy"), PSF, xp=cupy)(luma[None], chroma[None], FMT)
    for a, b in zip(cpu, gpu, strict=True):
        assert isinstance(b, np.ndarray) and b.dtype == a.dtype
        assert np.abs(a.astype(int) - b).max() <= 1


@pytest.mark.gpu
@pytest.mark.skipif(not cupy_usable(), reason="CuPy with a CUDA device is not available")
def test_gpu_snr_auto_planes_match_the_cpu():
    import cupy

    _, blurred = blurred_photo(size=(90, 120))
    luma, chroma = to_yuv(blurred)
    lumas, chromas = np.stack([luma] * 3), np.stack([chroma] * 3)

    def restorer(backend, xp):
        def make_filter(psf, channel_axis):
            return SmoothedAutoWiener(psf, channel_axis=channel_axis, backend=backend)

        return PlaneRestorer(make_filter, PSF, auto=True, xp=xp)

    cpu = restorer("numpy", np)(lumas, chromas, FMT)
    gpu = restorer("cupy", cupy)(lumas, chromas, FMT)
    for a, b in zip(cpu, gpu, strict=True):
        assert isinstance(b, np.ndarray) and np.abs(a.astype(int) - b).max() <= 1


def test_a_psf_as_wide_as_the_frame_still_fits_the_chroma_planes():
    # 15 px wide on a 15 px wide frame: scaled to the 8 px chroma planes it
    # would be 9 px wide (its bilinear tails).
    kernel = gpudeconv.psf.motion(15, 0)
    assert downscale(kernel, 2, 2).shape[1] == 9
    luma = np.random.default_rng(0).integers(16, 236, (2, 15, 15)).astype(np.uint8)
    chroma = np.full((2, 2, 8, 8), 128, np.uint8)
    out_luma, out_chroma = PlaneRestorer(fixed(100.0), kernel)(luma, chroma, FMT)
    assert out_luma.shape == luma.shape and (out_chroma == 128).all()


def test_the_remote_task_travels_and_restores_as_the_local_one():
    import pickle

    _, blurred = blurred_photo(size=(90, 120))
    luma, chroma = to_yuv(blurred)
    options = {"snr": 100.0, "backend": "numpy", "border": "harmonic"}
    task = RemotePlanes(PSF, options)
    task(luma[None], chroma[None], FMT)  # planned here: the plan must not travel
    copy = pickle.loads(pickle.dumps(task))
    assert copy._restorer is None
    local = PlaneRestorer(fixed(100.0), PSF)(luma[None], chroma[None], FMT)
    for a, b in zip(copy(luma[None], chroma[None], FMT), local, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="fixed snr"):
        RemotePlanes(PSF, {"snr": "auto"})


def test_a_frame_is_restored_the_same_whatever_else_is_in_its_batch():
    edge = np.where(np.arange(96) < 48, 16, 235).astype(np.uint8)
    frame = gpudeconv.blur(np.tile(edge, (96, 1)), PSF, backend="numpy")
    extreme = frame.copy()
    extreme[0, 0], extreme[0, 1] = 255, 0  # widens the limits of its own frame only
    chroma = np.full((2, 2, 48, 48), 128, np.uint8)
    chroma[1, 0, 0, 0] = 255
    restorer = PlaneRestorer(fixed(1e4), PSF)
    alone_luma, alone_chroma = restorer(frame[None], chroma[:1], FMT)
    batch_luma, batch_chroma = restorer(np.stack([frame, extreme]), chroma, FMT)
    np.testing.assert_array_equal(batch_luma[0], alone_luma[0])
    np.testing.assert_array_equal(batch_chroma[0], alone_chroma[0])
    assert batch_luma[1].max() > 235  # the extreme frame's own limits are wider
