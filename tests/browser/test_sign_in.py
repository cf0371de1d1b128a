"""Opening the site's address and signing in lands each role on its own page: a duty officer on
the desk, a leader on the tablet; a page asked for is kept."""

from __future__ import annotations

from tests_support import PASSWORD


def _sign_in_from(page, url: str, username: str) -> None:
    page.goto(url)
    page.wait_for_selector("input[name=username]")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda u: "/login" not in u)


def test_each_role_lands_on_its_own_page(browser, live_server, runtime, account):
    base = live_server.url
    for username, lands_on, shows in ((account("duty"), "/duty", ".duty-alerts"),
                                      (account("admin"), "/duty", ".duty-alerts"),
                                      (account("leader", runtime.areas.at_level(1)[0].code), "/", "#tablet")):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        _sign_in_from(page, base + "/", username)  # the bare address: the login page, then home
        assert page.url == base + lands_on, (username, page.url)
        page.wait_for_selector(shows, state="attached", timeout=15000)
        context.close()

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    _sign_in_from(page, base + "/wall", account("duty"))
    assert page.url == base + "/wall", "a page asked for is where a duty officer lands"
    context.close()
