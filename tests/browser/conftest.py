from __future__ import annotations

import shutil
import threading

import pytest
from tests_support import new_database

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    """Chromium, for one module's tests: Playwright's sync API keeps its event loop marked running in this
    thread while it is open, and a later test of the same worker calling asyncio.run would be refused."""
    if not shutil.which(CHROMIUM):
        pytest.skip("Chromium is not installed (tests/run_all.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(autouse=True)
def csp_bypassed_unless_asked(request, monkeypatch):
    """Playwright's wait_for_function evaluates its predicate with eval, which the app's
    Content-Security-Policy refuses (as it should): pages of browser tests bypass the policy unless
    a test asks for it (bypass_csp=False), as test_csp.py does for every page."""
    if "browser" not in request.fixturenames:
        return
    browser = request.getfixturevalue("browser")
    new_context, new_page = browser.new_context, browser.new_page
    monkeypatch.setattr(browser, "new_context", lambda *a, **kw: new_context(*a, **{"bypass_csp": True, **kw}))
    monkeypatch.setattr(browser, "new_page", lambda *a, **kw: new_page(*a, **{"bypass_csp": True, **kw}))


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path):
    return new_database(request, tmp_path)


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
