"""The tune page in a real headless Chromium (Debian's ``chromium`` and
``chromium-driver``), driven by Selenium: skipped, visibly, without them."""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl

import cv2
import numpy as np
import pytest
from tune_helpers import chromium, chromium_missing, request, run_printed, running_server

import gpudeconv

MISSING = chromium_missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=str(MISSING))
CONTROLS = ("PSF", "Length", "Angle", "Sigma", "Radius", "Method", "SNR", "Border", "Frame")
RESTORED = 'img[alt="restored preview"]'
ORIGINAL = 'img[alt="original preview"]'


@pytest.fixture(scope="module")
def browser():
    with chromium() as driver:
        driver.set_script_timeout(60)
        yield driver


@pytest.fixture
def photo(tmp_path, astronaut):
    path = tmp_path / "photo.png"
    blurred = gpudeconv.blur(astronaut[:240, :320], gpudeconv.psf.motion(15, 30), channel_axis=-1)
    cv2.imwrite(str(path), blurred)
    return path


def wait(driver, condition, timeout=90):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: condition())


def element(driver, selector):
    return driver.find_element("css selector", selector)


def loaded(driver) -> int:
    """How many restored previews the page has shown."""
    return driver.execute_script("return window.tune.loaded")


def shown_bytes(driver, selector) -> bytes:
    """The bytes of the picture an ``<img>`` shows (a blob the page fetched)."""
    script = """
        const done = arguments[arguments.length - 1];
        fetch(document.querySelector(arguments[0]).src).then((r) => r.arrayBuffer())
          .then((b) => { let s = ""; for (const v of new Uint8Array(b)) s += String.fromCharCode(v);
                         done(btoa(s)); }).catch((e) => done("error: " + e));
    """
    found = driver.execute_async_script(script, selector)
    assert not found.startswith("error"), found
    return base64.b64decode(found)


def open_page(driver, server):
    driver.get(server.url)
    wait(driver, lambda: loaded(driver) >= 1)


def test_the_page_keeps_its_contract(browser, photo):
    with running_server(photo) as server:
        open_page(browser, server)
        labels = browser.find_elements("tag name", "label")
        for name in CONTROLS:
            found = [
                label for label in labels if label.get_attribute("textContent").startswith(name)
            ]
            assert len(found) == 1, name
            control = element(browser, f"#{found[0].get_attribute('for')}")
            assert control.tag_name in ("input", "select"), name
        for selector in (ORIGINAL, RESTORED):
            assert element(browser, selector).get_attribute("naturalWidth") != "0"


def test_a_slider_move_shows_a_new_preview_and_command(browser, photo):
    from selenium.webdriver.common.keys import Keys

    with running_server(photo, initial={"length": 15, "angle": 30}) as server:
        open_page(browser, server)
        command = element(browser, "#command")
        assert "--psf motion:15:30 " in command.text
        before = loaded(browser)
        element(browser, "#length").send_keys(Keys.ARROW_RIGHT * 3)  # what a user's keys do
        wait(browser, lambda: "--psf motion:18:30 " in command.text)
        restored = element(browser, RESTORED)
        wait(browser, lambda: "length=18" in (restored.get_attribute("data-query") or ""))
        assert loaded(browser) > before
        # The picture shown is the server's preview for the slider's new position.
        query = dict(parse_qsl(restored.get_attribute("data-query")))
        status, _, expected = request(server, "GET", "/preview", {**query, "session": "test"})
        assert status == 200 and shown_bytes(browser, RESTORED) == expected
        assert query["length"] == "18" and query["angle"] == "30"


def test_save_writes_what_the_command_on_the_page_writes(browser, photo, tmp_path):
    with running_server(photo, initial={"length": 15, "angle": 30, "snr": 300}) as server:
        open_page(browser, server)
        command = element(browser, "#command").text
        assert "-o " + str(photo.with_name("photo.restored.png")) in command
        run_printed(command, tmp_path)
        element(browser, "#save").click()
        status = element(browser, "#status")
        wait(browser, lambda: status.text.startswith("Saved"))
        saved = photo.with_name("photo.restored-2.png")  # never over the command's file
        assert status.text == f"Saved {saved}"
        wait(browser, lambda: "photo.restored-3.png" in element(browser, "#command").text)
    by_command = cv2.imread(str(photo.with_name("photo.restored.png")), cv2.IMREAD_UNCHANGED)
    by_save = cv2.imread(str(saved), cv2.IMREAD_UNCHANGED)
    assert by_command.shape == (240, 320, 3)
    np.testing.assert_array_equal(by_save, by_command)


def test_the_frame_slider_picks_the_frame_of_a_video(browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (128, 96))
    for level in (40, 120, 200):
        writer.write(np.full((96, 128, 3), level, np.uint8))
    writer.release()
    with running_server(path) as server:
        open_page(browser, server)
        assert element(browser, "#command").text.startswith(f"gpudeconv video {path} ")
        original = element(browser, ORIGINAL)
        first = cv2.imdecode(np.frombuffer(shown_bytes(browser, ORIGINAL), np.uint8), 1)
        element(browser, "#frame").send_keys(Keys.ARROW_RIGHT * 2)
        wait(browser, lambda: "frame=2" in (original.get_attribute("data-query") or ""))
        last = cv2.imdecode(np.frombuffer(shown_bytes(browser, ORIGINAL), np.uint8), 1)
    assert abs(first.mean() - 40) < 3 and abs(last.mean() - 200) < 3


def test_a_click_zooms_to_1_to_1(browser, photo):
    with running_server(photo) as server:
        open_page(browser, server)
        restored = element(browser, RESTORED)
        restored.click()  # the middle of the picture
        wait(browser, lambda: "zoom=1" in (restored.get_attribute("data-query") or ""))
        query = dict(parse_qsl(restored.get_attribute("data-query")))
        assert abs(float(query["cr"]) - 0.5) < 0.02 and abs(float(query["cc"]) - 0.5) < 0.02
        assert element(browser, "#zoom").is_selected()


def test_estimate_without_estimate_psf_says_so(browser, photo, monkeypatch):
    monkeypatch.delattr(gpudeconv, "estimate_psf", raising=False)
    with running_server(photo) as server:
        open_page(browser, server)
        element(browser, "#estimate").click()
        status = element(browser, "#status")
        wait(browser, lambda: "estimate_psf" in status.text)
        assert status.get_attribute("class") == "error"


@pytest.mark.skipif(
    not hasattr(gpudeconv, "estimate_psf"), reason="gpudeconv.estimate_psf is not in this tree"
)
def test_estimate_moves_the_sliders(browser, tmp_path, astronaut):
    path = tmp_path / "blurred.png"
    cv2.imwrite(str(path), gpudeconv.blur(astronaut, gpudeconv.psf.motion(21, 30), channel_axis=-1))
    with running_server(path, initial={"kind": "gaussian"}) as server:
        open_page(browser, server)
        element(browser, "#estimate").click()
        wait(browser, lambda: element(browser, "#status").text.startswith("Estimate:"))
        assert element(browser, "#kind").get_attribute("value") == "motion"
        assert abs(float(element(browser, "#length").get_attribute("value")) - 21) < 4
        wait(browser, lambda: "--psf motion:" in element(browser, "#command").text)
