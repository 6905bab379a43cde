import atexit
import logging
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest
import torch

# Tests never reach the Hub; a test that needs a cache builds its own.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
logging.getLogger("transformers").setLevel(logging.ERROR)
# Gradio names its cached copies of files by their content, in one folder shared by every process, and an app
# built with delete_cache deletes its copies when it closes: each test process gets its own folder.
if "GRADIO_TEMP_DIR" not in os.environ:
    os.environ["GRADIO_TEMP_DIR"] = tempfile.mkdtemp(prefix="cvdemo-tests-gradio-")
    atexit.register(shutil.rmtree, os.environ["GRADIO_TEMP_DIR"], True)


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    yield


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test (modules opt in with ``pytestmark``): on a shared 2-core machine, two
    spinning OpenMP threads are many times slower than one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright cannot download its own browser here
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


@pytest.fixture
def chromium():
    """A Playwright browser: Debian's chromium, headless."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: `apt-get install -y chromium` (.ci/run does it)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, errors: list[str], locale: str = "en-US"):
    """A 1400x1000 page in ``locale`` (the browser's language: navigator.language and Accept-Language) whose
    page errors and console errors go to ``errors``."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale=locale)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    return page


@pytest.fixture
def browser_page(chromium):
    """``(page, errors)``: an English 1400x1000 page in Debian's chromium; ``errors`` collects page errors and
    console errors, for the test to assert empty at its end."""
    errors: list[str] = []
    yield open_page(chromium, errors), errors


@pytest.fixture
def page_in(chromium):
    """``page_in(locale) -> (page, errors)``: pages in a given browser language (e.g. "zh-CN")."""
    def make(locale: str):
        errors: list[str] = []
        return open_page(chromium, errors, locale), errors
    return make


def free_port() -> int:
    """A free local TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def serve():
    """``serve(demo, **launch_settings) -> url``: launch a Gradio demo in this process on a free local port
    (quietly, not blocking); the caller closes it."""
    def launch(demo, **settings) -> str:
        _, url, _ = demo.launch(prevent_thread_lock=True, **{"quiet": True, **settings, "server_port": free_port()})
        return url
    return launch
