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


@pytest.fixture(autouse=True)
def no_csp_violations(request, monkeypatch):
    """Every page a browser test opens runs under the app's Content-Security-Policy: whatever it
    refuses (an inline script or style, a foreign origin) shows up in the console and fails the test."""
    if "browser" not in request.fixturenames:
        yield
        return
    browser = request.getfixturevalue("browser")
    refused: list[str] = []

    def watch(console) -> None:
        if "Content Security Policy" in console.text:
            refused.append(console.text)

    new_context, new_page = browser.new_context, browser.new_page

    def context_watched(*args, **kwargs):
        context = new_context(*args, **kwargs)
        context.on("console", watch)
        return context

    def page_watched(*args, **kwargs):
        page = new_page(*args, **kwargs)
        page.on("console", watch)
        return page

    monkeypatch.setattr(browser, "new_context", context_watched)
    monkeypatch.setattr(browser, "new_page", page_watched)
    yield
    assert not refused, "refused by the Content-Security-Policy:\n" + "\n".join(refused)


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
