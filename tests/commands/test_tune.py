"""``gpudeconv tune`` over HTTP: security, previews, stale requests, Save
against the printed command, Ctrl-C. The page itself: test_tune_browser.py."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import psnr, run_gpudeconv
from tune_helpers import request, request_json, run_printed, running_server

import gpudeconv
from gpudeconv.commands.tune import initial_settings
from gpudeconv.commands.tune_preview import Settings, Source
from gpudeconv.engine.dispatch import cupy_usable

ROOT = Path(__file__).resolve().parents[2]
KERNEL = gpudeconv.psf.motion(15, 30)
SETTINGS = {"kind": "motion", "length": 15, "angle": 30, "snr": 300}


@pytest.fixture(scope="module")
def sharp(astronaut):
    return astronaut[:240, :320]


@pytest.fixture
def photo(tmp_path, sharp):
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), gpudeconv.blur(sharp, KERNEL, channel_axis=-1))
    return path


@pytest.fixture
def server(photo):
    with running_server(photo, initial=SETTINGS) as server:
        yield server


def decode(body: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_UNCHANGED)


def test_every_request_needs_the_token(server):
    assert request(server, "GET", "/")[0] == 200
    for path, method in [("/", "GET"), ("/preview", "GET"), ("/original", "GET"),
                         ("/save", "POST"), ("/estimate", "POST")]:  # fmt: skip
        assert request(server, method, path, token=False)[0] == 403
        assert request(server, method, path, token="x" + server.token[1:])[0] == 403


def test_only_loopback_host_names_are_served(server):
    port = server.server_address[1]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
        assert request(server, "GET", "/", host=host)[0] == 200, host
    # DNS rebinding: a page of evil.example whose name now points at 127.0.0.1.
    for host in (f"evil.example:{port}", "evil.example", f"10.1.2.3:{port}", "localhost.evil",
                 "[::1", ""):  # fmt: skip
        assert request(server, "GET", "/", host=host)[0] == 403, host


def test_it_serves_only_its_own_paths(server, photo):
    for path in ("/photo.png", f"/{photo}", "/../../etc/passwd", "/tune_page.html", "/save"):
        status = request(server, "GET", path)[0]
        assert status == 404, path
    status, _, body = request(server, "GET", "/")
    assert status == 200 and b'alt="restored preview"' in body and b"/*CONFIG*/" not in body


def test_bad_settings_get_a_clear_error(server):
    for params, word in [({"radius": 500, "kind": "disk"}, "radius"), ({"method": "x"}, "method"),
                         ({"kind": "file"}, "kind"), ({"frame": 3}, "frame")]:  # fmt: skip
        status, reply = request_json(server, "GET", "/preview", params)
        assert status == 400 and word in reply["error"]


def test_the_preview_restores_the_view_sized_photo(server, sharp):
    params = {**SETTINGS, "w": 160, "h": 120, "fmt": "png", "seq": 1}
    status, headers, body = request(server, "GET", "/preview", params)
    assert status == 200 and headers["Content-Type"] == "image/png"
    preview = decode(body)
    _, _, body = request(server, "GET", "/original", {"w": 160, "h": 120, "fmt": "png"})
    original = decode(body)
    assert preview.shape == original.shape == (120, 160, 3)
    small = cv2.resize(sharp, (160, 120), interpolation=cv2.INTER_AREA)
    assert psnr(small, preview) > psnr(small, original) + 3


@pytest.mark.gpu
@pytest.mark.skipif(not cupy_usable(), reason="CuPy with a CUDA device is not available")
def test_the_preview_on_the_gpu_is_the_cpu_one(photo):
    params = {**SETTINGS, "w": 160, "h": 120, "fmt": "png"}
    previews = []
    for backend in ("numpy", "cupy"):
        with running_server(photo, backend=backend) as server:
            status, _, body = request(server, "GET", "/preview", params)
            assert status == 200
            previews.append(decode(body).astype(int))
    assert np.abs(previews[0] - previews[1]).max() <= 1


def test_the_zoomed_preview_is_the_full_result_at_1_to_1(server, photo):
    params = {**SETTINGS, "w": 96, "h": 64, "zoom": 1, "cr": 0.5, "cc": 0.25, "fmt": "png"}
    status, _, body = request(server, "GET", "/preview", params)
    crop = decode(body)
    full = gpudeconv.wiener(cv2.imread(str(photo)), KERNEL, snr=300, channel_axis=-1)
    top, left = 120 - 32, 80 - 48
    expected = full[top : top + 64, left : left + 96]
    assert status == 200 and crop.shape == expected.shape
    # Restored with a wide margin: the pixels are nearly the full result's
    # (restoring the 1:1 crop alone differs by 15 grey levels on average here,
    # one pixel of misalignment by 8; a Wiener inverse reaches far).
    assert np.abs(crop.astype(int) - expected).mean() < 3.0


def test_a_preview_overtaken_while_waiting_is_dropped(server):
    replies = {}

    def ask(seq):
        params = {**SETTINGS, "w": 64, "h": 64, "session": "s", "seq": seq}
        replies[seq] = request(server, "GET", "/preview", params)[0]

    with server.compute_lock:  # a preview being computed: the others wait
        threads = [threading.Thread(target=ask, args=(seq,)) for seq in (1, 2, 3)]
        for t in threads:
            t.start()
            time.sleep(0.05)
        deadline = time.monotonic() + 30
        while not server.is_stale("s", 2) and time.monotonic() < deadline:  # 3 has come
            time.sleep(0.01)
    for t in threads:
        t.join(60)
    assert replies == {1: 204, 2: 204, 3: 200}
    # Another page's requests are its own.
    params = {**SETTINGS, "w": 64, "h": 64, "session": "t", "seq": 1}
    assert request(server, "GET", "/preview", params)[0] == 200


def test_the_command_follows_the_settings(server, photo):
    params = {**SETTINGS, "snr": 1234.5, "border": "edgetaper"}
    status, reply = request_json(server, "GET", "/command", params)
    expected = f"deblur {photo} -o {photo.with_name('photo.restored.png')} --psf motion:15:30"
    assert status == 200
    assert reply["command"] == f"gpudeconv {expected} --snr 1230 --border edgetaper"
    params = {"kind": "gaussian", "sigma": 2.25, "method": "sparse"}
    reply = request_json(server, "GET", "/command", params)[1]
    assert reply["command"].endswith("--psf gaussian:2.25 --method sparse")


def test_save_writes_what_the_printed_command_writes(tmp_path):
    # A small video; the photo case is driven through the page in test_tune_browser.py.
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 64))
    rng = np.random.default_rng(3)
    for _ in range(4):
        writer.write(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8))
    writer.release()
    with running_server(path) as server:
        params = {"kind": "disk", "radius": 2.5, "snr": "auto", "frame": 2}
        command = request_json(server, "GET", "/command", params)[1]["command"]
        assert command.startswith(f"gpudeconv video {path} {tmp_path / 'clip.restored.avi'} ")
        run_printed(command, tmp_path)
        status, saved = request_json(server, "POST", "/save", params)
    assert status == 200 and saved["path"] == str(tmp_path / "clip.restored-2.avi")

    def frames(file):
        capture = cv2.VideoCapture(str(file))
        found = []
        while (frame := capture.read()[1]) is not None:
            found.append(frame)
        return np.array(found)

    by_command, by_save = frames(tmp_path / "clip.restored.avi"), frames(saved["path"])
    assert by_command.shape == (4, 64, 96, 3)
    np.testing.assert_array_equal(by_save, by_command)


def test_estimate_without_estimate_psf_says_so(server, monkeypatch):
    monkeypatch.delattr(gpudeconv, "estimate_psf", raising=False)
    status, reply = request_json(server, "POST", "/estimate")
    assert status == 501 and "estimate_psf" in reply["error"]


@pytest.mark.skipif(
    not hasattr(gpudeconv, "estimate_psf"), reason="gpudeconv.estimate_psf is not in this tree"
)
def test_estimate_finds_the_motion_blur(tmp_path, astronaut):
    path = tmp_path / "blurred.png"
    cv2.imwrite(str(path), gpudeconv.blur(astronaut, gpudeconv.psf.motion(21, 30), channel_axis=-1))
    with running_server(path) as server:
        status, reply = request_json(server, "POST", "/estimate")
    assert status == 200, reply
    assert set(reply) == {"kind", "params", "spec", "confidence", "reason"}
    assert reply["kind"] == "motion" and 0 <= reply["confidence"] <= 1
    assert abs(reply["params"]["length"] - 21) < 4
    assert abs((reply["params"]["angle"] - 30 + 90) % 180 - 90) < 8


def test_initial_settings_come_from_the_psf_option(tmp_path):
    assert initial_settings("motion:31:60")[1].length == 31
    assert initial_settings("disk:4")[1].radius == 4
    kernel = tmp_path / "k.npy"
    np.save(kernel, KERNEL)
    assert initial_settings(str(kernel)) == (str(kernel), Settings(kind="file"))
    with pytest.raises(ValueError, match="OpenCV"):
        initial_settings("motion:5:0:matlab")


def start_tune(*args, cwd) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), GPUDECONV_BACKEND="numpy")
    env.pop("DISPLAY", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "gpudeconv", "tune", *args, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=env,
    )
    line = process.stdout.readline()
    match = re.search(r"(http://\S+)", line)
    assert match, (line, process.stderr.read() if process.poll() is not None else "")
    return process, match.group(1)


def test_ctrl_c_stops_the_server(photo, tmp_path):
    import urllib.request

    process, url = start_tune(str(photo), "--psf", "gaussian:2", cwd=tmp_path)
    try:
        with urllib.request.urlopen(url, timeout=60) as reply:
            assert reply.status == 200 and b"gaussian" in reply.read()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill() if process.poll() is None else None
    assert process.returncode == 0, stderr
    assert "stopped" in stderr and "Traceback" not in stderr
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=5)


def test_listening_beyond_loopback_warns(photo, tmp_path):
    process, url = start_tune(str(photo), "--host", "0.0.0.0", "--no-browser", cwd=tmp_path)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert url.startswith("http://127.0.0.1:") and "token=" in url
    assert "warning" in stderr and "anyone who can reach" in stderr


def test_a_missing_input_is_one_line(tmp_path):
    result = run_gpudeconv("tune", tmp_path / "nope.png", "--no-browser", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "nope.png" in result.stderr


def test_the_page_config_is_json(server):
    body = request(server, "GET", "/")[2].decode()
    config = json.loads(re.search(r"const CONFIG = (.*);", body).group(1))
    assert config["rows"] == 240 and config["cols"] == 320 and config["frames"] == 1
    assert config["settings"]["length"] == 15


def test_a_16_bit_grey_photo_is_previewed_and_saved_as_the_command_does(tmp_path, sharp):
    grey = cv2.cvtColor(gpudeconv.blur(sharp, KERNEL, channel_axis=-1), cv2.COLOR_BGR2GRAY)
    path = tmp_path / "grey16.png"
    cv2.imwrite(str(path), grey.astype(np.uint16) * 257)
    with running_server(path) as server:
        params = {**SETTINGS, "w": 160, "h": 120, "fmt": "png"}
        status, _, body = request(server, "GET", "/preview", params)
        assert status == 200 and decode(body).dtype == np.uint8 and decode(body).ndim == 2
        command = request_json(server, "GET", "/command", SETTINGS)[1]["command"]
        run_printed(command, tmp_path)
        status, saved = request_json(server, "POST", "/save", SETTINGS)
    assert status == 200 and saved["path"] == str(tmp_path / "grey16.restored-2.png")
    by_command = cv2.imread(str(tmp_path / "grey16.restored.png"), cv2.IMREAD_UNCHANGED)
    by_save = cv2.imread(saved["path"], cv2.IMREAD_UNCHANGED)
    assert by_command.dtype == np.uint16 and by_command.shape == grey.shape
    np.testing.assert_array_equal(by_save, by_command)


def test_a_taken_default_port_falls_back_to_a_free_one(photo, monkeypatch):
    import argparse
    import socket

    from gpudeconv.commands import tune

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setattr(tune, "DEFAULT_PORT", port)
        args = argparse.Namespace(port=None, host="127.0.0.1", backend="auto")
        server = tune.serve(Source(photo), args, None, Settings())
        server.server_close()
        assert server.server_address[1] != port
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            args.port = port
            tune.serve(Source(photo), args, None, Settings())
