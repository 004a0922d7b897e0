"""A video's own YUV planes: which streams have them, reading and writing them
exactly, and restore_video's planar route."""

import av
import numpy as np
import pytest
from conftest import psnr
from video_clips import make_clip, read_video

from gpudeconv.media import video
from gpudeconv.media.video_planes import ToPlanes, plane_format, planes_frame


def stored_planes(path):
    """Every frame's planes as the file stores them (PyAV's own reading)."""
    with av.open(str(path)) as container:
        out = []
        for frame in container.decode(video=0):
            dtype = np.uint16 if frame.format.components[0].bits > 8 else np.uint8
            out.append([
                np.frombuffer(p, dtype).reshape(p.height, -1)[:, : p.width].copy()
                for p in frame.planes
            ])  # fmt: skip
        return out


@pytest.mark.parametrize(
    "pix_fmt, colour_range, expected",
    [
        ("yuv420p", 0, ("yuv420p", 8, 2, 2, False)),
        ("yuv420p", 2, ("yuv420p", 8, 2, 2, True)),
        ("yuvj420p", 0, ("yuvj420p", 8, 2, 2, True)),
        ("yuvj440p", 0, ("yuvj440p", 8, 2, 1, True)),
        ("yuv422p10le", 1, ("yuv422p10le", 10, 1, 2, False)),
        ("yuv444p", 0, ("yuv444p", 8, 1, 1, False)),
        ("nv12", 0, ("yuv420p", 8, 2, 2, False)),
        ("p010le", 0, ("yuv420p10le", 10, 2, 2, False)),
    ],
)
def test_plane_formats(pix_fmt, colour_range, expected):
    fmt = plane_format(pix_fmt, colour_range)
    assert (fmt.pix_fmt, fmt.bits, fmt.rows, fmt.cols, fmt.full_range) == expected


@pytest.mark.parametrize("pix_fmt", ["gbrp", "gray", "rgb24", "yuva420p", "yuv410p", "pal8"])
def test_formats_without_three_yuv_planes_are_restored_as_bgr(pix_fmt):
    assert plane_format(pix_fmt) is None


def test_zero_levels_and_legal_ranges():
    limited, full = plane_format("yuv420p10le"), plane_format("yuvj420p")
    assert (limited.black, limited.neutral, limited.luma_top) == (64, 512, 940)
    assert limited.chroma_range == (64, 960) and limited.dtype == np.uint16
    assert (full.black, full.neutral, full.luma_top, full.chroma_range) == (0, 128, 255, (0, 255))


@pytest.mark.parametrize("pix_fmt, rows, cols", [("yuv420p", 121, 161), ("yuv420p10le", 90, 98)])
def test_planes_round_trip_exactly(pix_fmt, rows, cols):
    fmt = plane_format(pix_fmt)
    rng = np.random.default_rng(0)
    top = (1 << fmt.bits) - 1
    luma = rng.integers(0, top, (rows, cols), endpoint=True).astype(fmt.dtype)
    chroma = rng.integers(0, top, (2, (rows + 1) // 2, (cols + 1) // 2), endpoint=True)
    frame = planes_frame(luma, chroma.astype(fmt.dtype), fmt)
    assert (frame.width, frame.height, frame.format.name) == (cols, rows, pix_fmt)
    back_luma, back_chroma = ToPlanes(fmt)(frame)
    np.testing.assert_array_equal(back_luma, luma)
    np.testing.assert_array_equal(back_chroma, chroma)


@pytest.mark.parametrize("target", ["yuv420p", "yuvj420p"])
@pytest.mark.parametrize("tag", [0, 1, 2])
def test_semi_planar_frames_are_repacked_not_converted(target, tag):
    # NVDEC's NV12, whatever its range tag says, into the stream's own format.
    rng = np.random.default_rng(1)
    luma = rng.integers(0, 256, (64, 96)).astype(np.uint8)
    chroma = rng.integers(0, 256, (2, 32, 48)).astype(np.uint8)
    nv12 = planes_frame(luma, chroma, plane_format("yuv420p")).reformat(format="nv12")
    nv12.color_range = tag
    back_luma, back_chroma = ToPlanes(plane_format(target))(nv12)
    np.testing.assert_array_equal(back_luma, luma)
    np.testing.assert_array_equal(back_chroma, chroma)


@pytest.mark.parametrize("wide, own", [("yuv444p16le", "yuv444p10le"), ("p016le", "yuv420p10le")])
def test_sixteen_bit_containers_of_ten_bits_are_shifted_exactly(wide, own):
    # NVDEC gives 10-bit 4:4:4 as yuv444p16le (and may give P016): the bits
    # at the top. swscale's rescaling is off by one at the top of the range.
    fmt = plane_format(own)
    rng = np.random.default_rng(2)
    rows, cols = 20, 30
    luma = rng.integers(0, 1024, (rows, cols)).astype(np.uint16)
    chroma = rng.integers(0, 1024, (2, rows // fmt.rows, cols // fmt.cols)).astype(np.uint16)
    luma[0, 0] = chroma[0, 0, 0] = 1023
    sixteen = plane_format(wide)
    frame = planes_frame(luma << 6, chroma << 6, sixteen)
    if wide != sixteen.pix_fmt:
        frame = frame.reformat(format=wide)
    back_luma, back_chroma = ToPlanes(fmt)(frame)
    np.testing.assert_array_equal(back_luma, luma)
    np.testing.assert_array_equal(back_chroma, chroma)


def never(batch):
    raise AssertionError("the BGR restorer was called on a YUV stream")


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv420p10le"])
def test_planar_route_hands_over_the_stored_planes_and_writes_them_back(tmp_path, pix_fmt):
    make_clip(tmp_path / "in.mkv", n=6, rows=90, cols=122, pix_fmt=pix_fmt, audio=False)
    seen = []

    def planar(luma, chroma, fmt):
        seen.append((luma.shape, chroma.shape, luma.dtype, fmt))
        return luma, chroma

    report = video.restore_video(
        tmp_path / "in.mkv", tmp_path / "out.mkv", never, planar=planar, codec="ffv1"
    )
    assert report.restored_as == f"{pix_fmt} planes" and report.frames_written == 6
    fmt = plane_format(pix_fmt)
    assert sum(luma[0] for luma, _, _, _ in seen) == 6
    for luma, chroma, dtype, given in seen:
        assert luma[1:] == (90, 122) and chroma == (luma[0], 2, 45, 61)
        assert dtype == fmt.dtype and given == fmt
    # A lossless codec: the planes written are the planes read, bit for bit.
    before, after = stored_planes(tmp_path / "in.mkv"), stored_planes(tmp_path / "out.mkv")
    assert len(before) == len(after) == 6
    for a, b in zip(before, after, strict=True):
        for plane_a, plane_b in zip(a, b, strict=True):
            np.testing.assert_array_equal(plane_a, plane_b)


def test_streams_stored_as_rgb_take_the_bgr_route(tmp_path):
    make_clip(tmp_path / "in.mkv", n=3, codec="ffv1", pix_fmt="bgr0", audio=False, options={})
    called = []

    def restore(batch):
        called.append(batch.shape)
        return batch

    def planar(luma, chroma, fmt):
        raise AssertionError("an RGB stream has no YUV planes")

    report = video.restore_video(tmp_path / "in.mkv", tmp_path / "out.mkv", restore, planar=planar)
    assert report.restored_as == "bgr24" and called


def test_an_executor_restores_the_planes_remotely_in_order(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    make_clip(tmp_path / "in.mkv", n=9, audio=False)
    batches = []

    def planar(luma, chroma, fmt):
        batches.append(len(luma))
        return luma, chroma

    with ThreadPoolExecutor(3) as pool:
        report = video.restore_video(
            tmp_path / "in.mkv", tmp_path / "out.mkv", never, planar=planar, executor=pool,
            batch_size=2, codec="ffv1",
        )  # fmt: skip
    assert report.restored_as == "yuv420p planes" and report.frames_written == 9
    assert sorted(batches) == [1, 2, 2, 2, 2]
    before, after = stored_planes(tmp_path / "in.mkv"), stored_planes(tmp_path / "out.mkv")
    for a, b in zip(before, after, strict=True):
        for plane_a, plane_b in zip(a, b, strict=True):
            np.testing.assert_array_equal(plane_a, plane_b)


def test_planes_are_resampled_when_the_encoder_needs_another_layout(tmp_path):
    # An odd-sized 4:2:0 stream (FFV1 can hold one) written as H.264 needs 4:4:4.
    make_clip(
        tmp_path / "in.mkv", n=4, rows=91, cols=121, codec="ffv1", audio=False, options={}
    )  # fmt: skip
    report = video.restore_video(
        tmp_path / "in.mkv", tmp_path / "out.mp4", never, planar=lambda y, c, f: (y, c)
    )
    assert report.restored_as == "yuv420p planes"
    assert report.encoder.startswith("libx264 yuv444p")
    before, _, _ = read_video(tmp_path / "in.mkv")
    after, _, info = read_video(tmp_path / "out.mp4")
    assert info["size"] == (91, 121) and info["pix_fmt"] == "yuv444p"
    assert psnr(np.stack(before), np.stack(after)) > 40
