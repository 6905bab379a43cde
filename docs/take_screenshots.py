"""Screenshots of every tab of the running app, for the README's tour.

    python docs/take_screenshots.py [--locale en-US|zh-CN] [--out docs/screenshots] [--train-seconds 60]

Starts the app on the shipped checkpoints (no network), drives Debian's chromium (`/usr/bin/chromium`) in the
given browser language through each tab as a visitor would (an example image in Detect and Attention, a
matching stepped a few times, the COCO-100 example evaluated, a tiny DETR trained for a minute), and writes
``<out>/<tab>[-<lang>].jpg``. Chinese text needs a CJK font (`apt-get install -y fonts-wqy-microhei`).
"""

from __future__ import annotations

import argparse
import io
import logging
import socket
import sys
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import app  # noqa: E402 - the repository root is on the path only now

log = logging.getLogger("screenshots")
CHROMIUM = "/usr/bin/chromium"
WIDTH, MAX_HEIGHT = 1400, 2000
MATCH_IMAGE = 6  # the validation image shown in the Matching tab: four shapes, one of them small


def _filled(page: Page, selector: str, timeout: float = 60_000) -> None:
    """Wait until the element's text is no longer empty."""
    page.wait_for_function(f"(document.querySelector({selector!r})?.innerText || '').trim().length > 0",
                           timeout=timeout)


def _changed(page: Page, selector: str, before: str, timeout: float = 30_000) -> None:
    page.wait_for_function(f"b => (document.querySelector({selector!r})?.innerText || '') !== b", arg=before,
                           timeout=timeout)


def _save(page: Page, path: Path) -> None:
    page.wait_for_timeout(800)  # plots finish drawing
    height = min(page.evaluate("document.body.scrollHeight"), MAX_HEIGHT)
    png = page.screenshot(clip={"x": 0, "y": 0, "width": WIDTH, "height": height}, full_page=True)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.save(path, quality=82, optimize=True)
    log.info("wrote %s (%dx%d)", path, *image.size)


def take(url: str, locale: str, out: Path, train_seconds: float) -> None:
    suffix = "" if locale.startswith("en") else "-" + locale.split("-")[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport={"width": WIDTH, "height": 1000}, locale=locale)
        page.goto(url)
        tabs = page.get_by_role("tab")
        page.wait_for_selector("#detect-input input[type=file]", state="attached", timeout=60_000)
        page.wait_for_timeout(1000)

        page.locator("#detect-input input[type=file]").set_input_files(str(ROOT / "examples/shapes/shapes-1.png"))
        _filled(page, "#detect-summary")
        page.wait_for_selector("#detect-cross img", timeout=60_000)
        _save(page, out / f"detect{suffix}.jpg")

        tabs.nth(1).click()  # Detectors: its first view ran every local model on the first shapes example
        page.wait_for_function("document.querySelectorAll('#detectors-gallery img').length >= 12", timeout=60_000)
        _filled(page, "#detectors-comparison")
        page.wait_for_timeout(1000)
        _save(page, out / f"detectors{suffix}.jpg")

        tabs.nth(2).click()
        index = page.locator("#match-index input[type=number]")
        index.fill(str(MATCH_IMAGE))
        index.press("Enter")
        page.wait_for_timeout(500)
        page.locator("#match-button").click()
        _filled(page, "#match-summary")
        for _ in range(4):
            before = page.locator("#match-step-text").inner_text()
            page.locator("#match-step").click()
            _changed(page, "#match-step-text", before)
        _save(page, out / f"match{suffix}.jpg")

        tabs.nth(3).click()
        page.locator("#vit-input input[type=file]").set_input_files(str(ROOT / "examples/shapes-classify/star.png"))
        page.wait_for_selector("#vit-rollout img", timeout=60_000)
        _save(page, out / f"attention{suffix}.jpg")

        tabs.nth(4).click()
        page.locator("#tab-evaluate .gallery-item, #tab-evaluate table tbody tr").first.click()
        page.wait_for_function("document.querySelectorAll('#eval-dataset .file-preview, "
                               "#eval-predictions .file-preview').length >= 2", timeout=30_000)
        page.locator("#eval-button").click()
        _filled(page, "#eval-counts", timeout=120_000)
        page.wait_for_timeout(2000)
        _save(page, out / f"evaluate{suffix}.jpg")

        tabs.nth(5).click()
        page.locator("#train-start").click()
        _filled(page, "#train-status", timeout=120_000)
        page.wait_for_timeout(train_seconds * 1000)
        _save(page, out / f"train{suffix}.jpg")
        page.locator("#train-stop").click()
        page.wait_for_timeout(3000)

        tabs.nth(6).click()
        page.wait_for_timeout(1500)
        _save(page, out / f"concepts{suffix}.jpg")
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--locale", default="en-US", help="the browser's language, e.g. en-US or zh-CN")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--train-seconds", type=float, default=60.0, help="how long the Train tab trains")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = app.build_demo()
    _, url, _ = demo.launch(prevent_thread_lock=True, **{**app.launch_settings(), "server_port": port,
                                                         "quiet": True})
    try:
        take(url, args.locale, args.out, args.train_seconds)
    finally:
        demo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
