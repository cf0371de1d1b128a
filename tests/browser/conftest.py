from __future__ import annotations

import shutil
import threading

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.skip("Chromium is not installed (tests/run_all.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path):
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def publisher(runtime):
    """The wall's frames built in a thread, as the scheduler's leader builds them."""
    from bigscreen.wall.publisher import FramePublisher

    stop = threading.Event()
    thread = threading.Thread(target=FramePublisher(runtime).run, args=(stop,), daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(5)
