"""A tune server in a thread, requests to it, and headless Chromium (shared by
the tune tests and ``benchmarks/tune_latency.py``)."""

from __future__ import annotations

import contextlib
import http.client
import json
import shlex
import shutil
import tempfile
import threading
from urllib.parse import urlencode

from conftest import run_gpudeconv

from gpudeconv.commands.tune_preview import Settings, Source
from gpudeconv.commands.tune_server import TuneServer

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,850",
]


@contextlib.contextmanager
def running_server(path, **options):
    """A TuneServer for ``path`` on a free loopback port, serving in a thread."""
    if "initial" in options and isinstance(options["initial"], dict):
        options["initial"] = Settings(**options["initial"])
    server = TuneServer(Source(path), port=0, **options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def request(server, method, path, params=None, *, token=True, host=None):
    """``(status, headers, body)`` of one request; ``token=False`` leaves it out,
    a string replaces it."""
    params = dict(params or {})
    if token:
        params["token"] = server.token if token is True else token
    port = server.server_address[1]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        headers = {} if host is None else {"Host": host}
        connection.request(method, f"{path}?{urlencode(params)}", headers=headers)
        reply = connection.getresponse()
        return reply.status, dict(reply.getheaders()), reply.read()
    finally:
        connection.close()


def request_json(server, method, path, params=None):
    status, _, body = request(server, method, path, params)
    return status, json.loads(body)


def run_printed(command: str, cwd):
    """Run a command line the page printed (``gpudeconv ...``) in a subprocess."""
    argv = shlex.split(command)
    assert argv[0] == "gpudeconv", command
    result = run_gpudeconv(*argv[1:], cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result


def chromium_missing() -> str | None:
    """Why no headless Chromium can be driven here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install '.[test]')"
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        return "no Chromium installed (apt-get install chromium chromium-driver)"
    if not shutil.which("chromedriver"):
        return "no chromedriver installed (apt-get install chromium-driver)"
    return None


@contextlib.contextmanager
def chromium():
    """A Selenium driver for headless Chromium with a fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="gpudeconv-chromium-")
    choices = webdriver.ChromeOptions()
    choices.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        choices.add_argument(flag)
    driver = webdriver.Chrome(options=choices, service=Service(shutil.which("chromedriver")))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
