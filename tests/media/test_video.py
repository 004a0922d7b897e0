"""Video through PyAV: what is kept, what is chosen, what fails and how."""

from fractions import Fraction

import av
import numpy as np
import pytest
from conftest import psnr
from video_clips import KERNEL, audio_packets, make_clip, read_video

import gpudeconv
from gpudeconv.engine.dispatch import cupy_usable
from gpudeconv.media import video
from gpudeconv.media.video_read import DEVICE_TYPES, SCALING, open_source
from gpudeconv.media.video_write import choose_encoder, pixel_format


def wiener():
    return gpudeconv.Wiener(gpudeconv.psf.from_spec(KERNEL), channel_axis=-1, backend="numpy")


def identity(batch):
    return batch


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_restores_and_keeps_audio_packets_rate_and_times(tmp_path):
    truth = make_clip(tmp_path / "in.mp4", n=30)
    report = video.restore_video(tmp_path / "in.mp4", tmp_path / "out.mp4", wiener(), batch_size=7)
    assert (report.frames_read, report.frames_written) == (30, 30)
    assert report.frames_declared == 30 and not report.incomplete
    assert report.copied == ["audio (aac)"] and report.encoder.startswith("libx264 yuv420p")
    blurred, times_in, info_in = read_video(tmp_path / "in.mp4")
    restored, times_out, info_out = read_video(tmp_path / "out.mp4")
    assert len(restored) == 30 and times_out == pytest.approx(times_in, abs=1e-6)
    assert info_out["rate"] == 12 and info_out["size"] == (120, 160)
    assert info_out["codec"] == "h264"
    gain = np.mean(
        [psnr(t, r) - psnr(t, b) for t, r, b in zip(truth, restored, blurred, strict=True)]
    )
    assert gain > 1, gain
    # The audio is the same bytes at the same times: nothing re-encoded, in sync.
    original, copied = audio_packets(tmp_path / "in.mp4"), audio_packets(tmp_path / "out.mp4")
    assert len(original) > 100 and copied == original
    assert not leftovers(tmp_path)


def test_encoded_output_is_within_half_a_db_of_the_restored_frames(tmp_path):
    make_clip(tmp_path / "in.mp4", n=12, rows=144, cols=176, audio=False)
    blurred, _, _ = read_video(tmp_path / "in.mp4")
    restore = wiener()
    kept = []

    def keep(batch):
        out = restore(batch)
        kept.extend(out)
        return out

    video.restore_video(tmp_path / "in.mp4", tmp_path / "out.mp4", keep)
    restored, _, _ = read_video(tmp_path / "out.mp4")
    assert len(kept) == len(restored) == len(blurred) == 12
    # CRF 18 at the default: the codec's loss is small next to the restoration.
    sharp = make_clip(tmp_path / "unused.mp4", n=12, rows=144, cols=176, audio=False)
    drop = [psnr(s, k) - psnr(s, r) for s, k, r in zip(sharp, kept, restored, strict=True)]
    assert np.mean(drop) < 0.5, drop


@pytest.mark.parametrize("rows, cols", [(121, 161), (90, 97)])
def test_odd_sizes_are_kept_exactly(tmp_path, rows, cols):
    make_clip(tmp_path / "in.mkv", n=5, rows=rows, cols=cols, pix_fmt="yuv444p", audio=False)
    video.restore_video(tmp_path / "in.mkv", tmp_path / "out.mp4", identity)
    frames, _, info = read_video(tmp_path / "out.mp4")
    assert info["size"] == (rows, cols) and frames[0].shape == (rows, cols, 3)
    assert info["pix_fmt"] == "yuv444p"


def test_ten_bit_in_ten_bit_out(tmp_path):
    make_clip(tmp_path / "in.mkv", n=6, pix_fmt="yuv420p10le", audio=False)
    seen = []

    def check(batch):
        seen.append(batch.dtype)
        return batch

    video.restore_video(tmp_path / "in.mkv", tmp_path / "out.mkv", check)
    assert seen and all(d == np.uint16 for d in seen)
    before, _, _ = read_video(tmp_path / "in.mkv", fmt="bgr48le")
    after, _, info = read_video(tmp_path / "out.mkv", fmt="bgr48le")
    assert info["pix_fmt"] == "yuv420p10le"
    # Values between the 8-bit steps survive: the output is not 8-bit in disguise.
    assert len(np.unique(np.stack(after) % 257)) > 50
    assert psnr(np.stack(before), np.stack(after), data_range=65535) > 40


def test_colour_tags_are_carried_and_used(tmp_path):
    full = {"colorspace": 5, "color_range": 2, "color_primaries": 5, "color_trc": 13}
    make_clip(tmp_path / "full.mkv", n=2, colour=full, audio=False)
    video.restore_video(tmp_path / "full.mkv", tmp_path / "full_out.mkv", identity)
    assert read_video(tmp_path / "full_out.mkv")[2]["colour"] == full
    tags = {"colorspace": 1, "color_range": 1, "color_primaries": 1, "color_trc": 1}
    make_clip(tmp_path / "in.mp4", n=6, colour=tags, audio=False)
    video.restore_video(tmp_path / "in.mp4", tmp_path / "out.mp4", identity)
    before, _, info_in = read_video(tmp_path / "in.mp4")
    after, _, info_out = read_video(tmp_path / "out.mp4")
    assert info_in["colour"] == tags and info_out["colour"] == tags
    # Converted back with the same matrix and range: no colour shift.
    shift = np.stack(after).astype(float).mean((0, 1, 2)) - np.stack(before).mean((0, 1, 2))
    assert np.abs(shift).max() < 1.0, shift
    assert psnr(np.stack(before), np.stack(after)) > 38


def test_variable_frame_rate_times_are_kept(tmp_path):
    pts = [0, 40, 80, 200, 240, 500, 540, 580, 900, 940]  # ms: pauses and bursts
    make_clip(tmp_path / "in.mkv", n=len(pts), pts=pts)
    video.restore_video(tmp_path / "in.mkv", tmp_path / "out.mkv", wiener())
    _, times, _ = read_video(tmp_path / "out.mkv")
    assert times == pytest.approx([p / 1000 for p in pts], abs=1e-3)
    assert audio_packets(tmp_path / "out.mkv") == audio_packets(tmp_path / "in.mkv")


def test_rotation_and_metadata_are_carried(tmp_path):
    make_clip(tmp_path / "plain.mp4", n=4, audio=False)
    with av.open(str(tmp_path / "plain.mp4")) as src, av.open(str(tmp_path / "in.mp4"), "w") as out:
        out.metadata["title"] = "a rotated clip"
        stream = out.add_stream_from_template(src.streams.video[0])
        stream.set_display_rotation(90)
        for packet in src.demux(src.streams.video[0]):
            if packet.size:
                packet.stream = stream
                out.mux(packet)
    video.restore_video(tmp_path / "in.mp4", tmp_path / "out.mp4", identity)
    with av.open(str(tmp_path / "out.mp4")) as done:
        assert done.metadata.get("title") == "a rotated clip"
        frame = next(done.decode(video=0))
        assert frame.rotation == 90


def test_nvenc_is_tried_first_on_the_gpu_path_and_falls_back(tmp_path):
    make_clip(tmp_path / "in.mp4", n=3, audio=False)
    container, info = open_source(tmp_path / "in.mp4")
    container.close()
    tried = []

    def no_nvidia(name, pix_fmt, info, options):
        tried.append(name)
        if name.endswith("nvenc"):
            raise av.error.ExternalError(-542398533, "cannot load libcuda.so.1")

    chosen = choose_encoder(info, "h264", hardware=True, opener=no_nvidia)
    assert tried == ["h264_nvenc", "libx264"] and chosen.name == "libx264"
    assert chosen.options == {"crf": "18", "preset": "medium"}
    tried.clear()
    chosen = choose_encoder(info, "hevc", hardware=True, opener=lambda *a: tried.append(a[0]))
    assert tried == ["hevc_nvenc"] and chosen.options["cq"] == "21"
    assert pixel_format("hevc_nvenc", info) == "yuv420p"
    tried.clear()
    choose_encoder(info, "h264", hardware=False, opener=lambda *a: tried.append(a[0]))
    assert tried == ["libx264"]
    with pytest.raises(ValueError, match="cannot encode 'h264'.*libx264: broken"):
        choose_encoder(info, "h264", opener=_raise(ValueError("broken")))


def _raise(exc):
    def opener(*args):
        raise exc

    return opener


def test_failed_restore_leaves_nothing(tmp_path):
    make_clip(tmp_path / "clip.mp4", n=20)
    calls = []

    def failing(batch):
        calls.append(len(batch))
        if len(calls) == 2:
            raise RuntimeError("GPU fell off the bus")
        return batch

    with pytest.raises(RuntimeError, match="bus"):
        video.restore_video(tmp_path / "clip.mp4", tmp_path / "out.mp4", failing, batch_size=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_a_writer_that_fails_stops_the_run_and_leaves_nothing(tmp_path, monkeypatch):
    make_clip(tmp_path / "clip.mp4", n=20)
    real = video.video_frame
    made = []

    def failing(*args):
        made.append(1)
        if len(made) == 9:
            raise OSError(28, "No space left on device")
        return real(*args)

    monkeypatch.setattr(video, "video_frame", failing)
    with pytest.raises(OSError, match="cannot write frame 9 .*No space left"):
        video.restore_video(tmp_path / "clip.mp4", tmp_path / "out.mp4", identity, batch_size=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_truncated_input_keeps_the_decodable_frames(tmp_path):
    opts = {"movflags": "faststart"}  # the index first: the file is readable when cut
    make_clip(tmp_path / "clip.mp4", n=40, container_options=opts)
    data = (tmp_path / "clip.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    report = video.restore_video(tmp_path / "cut.mp4", tmp_path / "out.mp4", identity)
    assert report.incomplete and report.frames_declared == 40 and report.declared_exact
    assert 5 < report.frames_read < 40 and report.frames_written == report.frames_read
    frames, _, _ = read_video(tmp_path / "out.mp4")
    assert len(frames) == report.frames_read


def test_paths_that_cannot_work_are_refused_before_reading(tmp_path):
    make_clip(tmp_path / "clip.mp4", n=3, audio=False)
    (tmp_path / "link.mp4").symlink_to(tmp_path / "clip.mp4")
    (tmp_path / "hard.mp4").hardlink_to(tmp_path / "clip.mp4")
    before = (tmp_path / "clip.mp4").read_bytes()
    for target in ("clip.mp4", "link.mp4", "hard.mp4"):
        with pytest.raises(ValueError, match="is the input"):
            video.restore_video(tmp_path / "clip.mp4", tmp_path / target, identity, overwrite=True)
    assert (tmp_path / "clip.mp4").read_bytes() == before
    with pytest.raises(ValueError, match="is a folder"):
        video.restore_video(tmp_path, tmp_path / "x.mp4", identity)
    with pytest.raises(ValueError, match="is a folder"):
        video.restore_video(tmp_path / "clip.mp4", tmp_path, identity)
    (tmp_path / "other.mp4").write_bytes(b"kept")
    with pytest.raises(FileExistsError, match="--overwrite"):
        video.restore_video(tmp_path / "clip.mp4", tmp_path / "other.mp4", identity)
    assert (tmp_path / "other.mp4").read_bytes() == b"kept"


def test_streams_a_container_cannot_hold_are_reported(tmp_path):
    make_clip(tmp_path / "clip.mp4", n=4)
    report = video.restore_video(tmp_path / "clip.mp4", tmp_path / "out.webm", identity)
    assert report.dropped == ["audio (aac)"] and report.copied == []
    assert report.encoder.startswith("libsvtav1")


def test_time_stamps_helper_repairs_only_what_encoders_refuse():
    info = type("I", (), {"rate": Fraction(25), "time_base": Fraction(1, 1000)})()
    stamps = video._Stamps(info)
    assert [stamps(p) for p in (0, 40, 120, None, 100, 200)] == [0, 40, 120, 160, 200, 240]


def _seen_by_restorer(source, target, **kwargs):
    """Run ``restore_video`` with an identity restorer; the frames it was given."""
    seen = []

    def keep(batch):
        seen.extend(batch.copy())
        return batch

    report = video.restore_video(source, target, keep, **kwargs)
    return seen, report


@pytest.mark.parametrize(
    "pix_fmt, fmt, colour, size",
    [
        ("yuv420p", "bgr24", None, (120, 160)),
        ("yuv420p", "bgr24", {"colorspace": 1, "color_range": 2}, (120, 160)),
        ("yuv420p10le", "bgr48le", {"colorspace": 1, "color_range": 1}, (120, 160)),
        ("yuv444p", "bgr24", None, (91, 97)),
    ],
)
def test_frames_reach_the_restorer_as_swscale_converts_them(tmp_path, pix_fmt, fmt, colour, size):
    # The pipeline converts through planar GBR with one swscale context per
    # thread (faster); the bytes must be those of the direct conversion.
    rows, cols = size
    make_clip(tmp_path / "in.mkv", n=5, rows=rows, cols=cols, pix_fmt=pix_fmt, colour=colour,
              audio=False)  # fmt: skip
    seen, _ = _seen_by_restorer(tmp_path / "in.mkv", tmp_path / "out.mkv")
    with av.open(str(tmp_path / "in.mkv")) as container:
        expected = [
            f.to_ndarray(format=fmt, interpolation=SCALING, src_colorspace=(colour or {}).get(
                "colorspace"), src_color_range=(colour or {}).get("color_range"))
            for f in container.decode(video=0)
        ]  # fmt: skip
    assert len(seen) == len(expected) == 5
    for got, want in zip(seen, expected, strict=True):
        assert got.dtype == want.dtype and np.array_equal(got, want)


def _no_decoder_here() -> str:
    """A device type FFmpeg knows but has no H.264 decoder for in this build."""
    have = {c.device_type.name for c in av.codec.Codec("h264", "r").hardware_configs}
    return next(t for t in DEVICE_TYPES if t not in have)


@pytest.mark.parametrize("device", ["cuda", "no-decoder"])
def test_hardware_decoding_that_cannot_run_falls_back_with_the_same_frames(tmp_path, device):
    if device == "cuda" and cupy_usable():
        pytest.skip("NVDEC may run here: test_nvdec_decodes_the_same_frames covers it")
    device = _no_decoder_here() if device == "no-decoder" else device
    make_clip(tmp_path / "in.mp4", n=10)
    software, plain = _seen_by_restorer(tmp_path / "in.mp4", tmp_path / "sw.mp4")
    hardware, report = _seen_by_restorer(
        tmp_path / "in.mp4", tmp_path / "hw.mp4", hardware=True, hwaccel=device
    )
    assert plain.decoder == "h264"
    assert report.decoder.startswith(f"h264 (software: {device} ")
    assert report.frames_written == 10 and not report.incomplete
    assert len(hardware) == 10 and all(
        np.array_equal(h, s) for h, s in zip(hardware, software, strict=True)
    )
    assert audio_packets(tmp_path / "hw.mp4") == audio_packets(tmp_path / "in.mp4")
    with pytest.raises(ValueError, match="hwaccel must be one of .*got 'nvidia'"):
        video.restore_video(tmp_path / "in.mp4", tmp_path / "x.mp4", identity, hardware=True,
                            hwaccel="nvidia")  # fmt: skip
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.gpu
@pytest.mark.skipif(not cupy_usable(), reason="CuPy with a CUDA device is not available")
def test_nvdec_decodes_the_same_frames(tmp_path):
    make_clip(tmp_path / "in.mp4", n=10, rows=240, cols=320)
    software, _ = _seen_by_restorer(tmp_path / "in.mp4", tmp_path / "sw.mp4")
    hardware, report = _seen_by_restorer(tmp_path / "in.mp4", tmp_path / "hw.mp4", hardware=True)
    assert report.decoder == "h264 (cuda)", report.decoder
    assert report.frames_written == 10 and not report.incomplete
    # H.264 decoding is exact; NVDEC hands over NV12 rather than yuv420p,
    # whose conversion to BGR may round differently by a level.
    for h, s in zip(hardware, software, strict=True):
        assert np.abs(h.astype(int) - s).max() <= 1
    assert audio_packets(tmp_path / "hw.mp4") == audio_packets(tmp_path / "in.mp4")
