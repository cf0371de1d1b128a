"""Signing out from the tablet's button ends the session (the form carries the CSRF token)."""

from __future__ import annotations

from tests_support import PASSWORD, sign_in


def test_the_sign_out_button_ends_the_session(browser, live_server, account):
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    sign_in(page, live_server.url, account("duty"), PASSWORD)
    page.goto(live_server.url + "/")
    page.locator(".tablet-signout button").click()
    page.wait_for_url(f"{live_server.url}/login*")
    page.goto(live_server.url + "/")
    assert page.url.startswith(f"{live_server.url}/login"), "signed out: the tablet asks to sign in again"
    context.close()
