"""How long ``gpudeconv tune`` takes from a slider move to the new restored
preview on screen, in a real (headless) Chromium, for a 1080p photo.

The page itself stamps each preview: from the slider's ``input`` event to the
``load`` event of the restored ``<img>`` (performance.now()). The Length slider
is moved one step at a time by key presses, waiting for each preview. For
scale, the same run times restoring the whole 1080p frame.

    python benchmarks/tune_latency.py [--moves 30] [--screenshot docs/tune.png]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "commands")]

from tune_helpers import chromium, chromium_missing, running_server  # noqa: E402

import gpudeconv  # noqa: E402

PHOTO = ROOT.parent / "shared" / "data" / "colour" / "hubble_deep_field.jpg"
KERNEL = (31, 60)


def photo_1080p() -> np.ndarray:
    """A 1920x1080 colour photo blurred by a 31-px motion at 60 degrees."""
    if PHOTO.is_file():
        image = cv2.imread(str(PHOTO))
        rows = image.shape[1] * 9 // 16
        image = image[(image.shape[0] - rows) // 2 :][:rows]
    else:
        from gpudeconv.commands.demo import builtin_image

        image = builtin_image()[96:312]
    image = cv2.resize(image, (1920, 1080), interpolation=cv2.INTER_CUBIC)
    return gpudeconv.blur(image, gpudeconv.psf.motion(*KERNEL), channel_axis=-1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=30, help="slider moves timed")
    parser.add_argument("--screenshot", type=Path, help="also save a screenshot of the page")
    args = parser.parse_args()
    if args.screenshot:
        args.screenshot = args.screenshot.resolve()
    missing = chromium_missing()
    if missing:
        print(f"cannot run: {missing}", file=sys.stderr)
        return 1
    from selenium.webdriver.common.keys import Keys

    blurred = photo_1080p()
    restore = gpudeconv.Wiener(gpudeconv.psf.motion(*KERNEL), snr=100, channel_axis=-1)
    restore(blurred)
    start = time.perf_counter()
    for _ in range(5):
        restore(blurred)
    full_ms = (time.perf_counter() - start) / 5 * 1000

    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)  # the page shows the command with the photo's name only
        path = Path("photo_1080p.png")
        cv2.imwrite(str(path), blurred)
        initial = {"length": KERNEL[0], "angle": KERNEL[1], "snr": 100}
        with running_server(path, initial=initial) as server, chromium() as driver:
            driver.get(server.url)
            loaded = lambda: driver.execute_script("return window.tune.loaded")  # noqa: E731
            wait_for(lambda: loaded() >= 1)
            slider = driver.find_element("id", "length")
            timings = []
            for move in range(args.moves + 2):
                before = loaded()
                slider.send_keys(Keys.ARROW_RIGHT if move % 2 else Keys.ARROW_LEFT)
                wait_for(lambda: loaded() > before)  # noqa: B023
                time.sleep(0.05)
                timings.append(driver.execute_script("return window.tune.timings.at(-1)"))
            size = driver.execute_script(
                "const i = document.querySelector('img[alt=\"restored preview\"]');"
                "return [i.naturalWidth, i.naturalHeight]"
            )
            if args.screenshot:
                # The split view, divider in the middle: both halves of one picture.
                from selenium.webdriver.support.ui import Select

                Select(driver.find_element("id", "layout")).select_by_value("split")
                before = loaded()
                driver.find_element("id", "auto").click()  # snr="auto": less ringing
                wait_for(lambda: loaded() > before)  # noqa: B023
                time.sleep(1.0)
                args.screenshot.parent.mkdir(parents=True, exist_ok=True)
                driver.save_screenshot(str(args.screenshot))
    timings = sorted(timings[2:])  # the first moves warm the caches up
    median, p90 = statistics.median(timings), timings[int(0.9 * (len(timings) - 1))]
    print(f"1080p photo, Wiener, motion {KERNEL[0]} px; preview {size[0]}x{size[1]}")
    print(f"slider move -> restored preview shown, {len(timings)} moves: median {median:.0f} ms,")
    print(f"  90th percentile {p90:.0f} ms, max {timings[-1]:.0f} ms")
    print(f"restoring the whole 1080p frame alone: {full_ms:.0f} ms ({full_ms / median:.2f}x)")
    return 0


def wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the page did not show a new preview in time")
        time.sleep(0.005)


if __name__ == "__main__":
    sys.exit(main())
