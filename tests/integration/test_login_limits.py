"""Login limits count failures, not successes, per account and address first: one person's typos
do not lock out a colleague behind the same address, an attack on an account from many addresses
does not lock its owner out of a browser they signed in with before, and an admin has a way back."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from tests_support import audit_entries, login

from bigscreen.auth.ratelimit import PER_ACCOUNT, PER_ADDRESS, PER_PAIR

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
WRONG = "not the password"


@pytest.fixture
def browser_at(web):
    """A new browser (own cookies) at an address: browser_at("10.0.0.7")."""
    made = []

    def make(address: str) -> TestClient:
        client = TestClient(web.app, follow_redirects=False, client=(address, 50000))
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def _fail(client, username: str, times: int) -> list[int]:
    return [login(client, username, WRONG).status_code for _ in range(times)]


def test_one_person_failing_does_not_stop_a_colleague_at_the_same_address(runtime, account, browser_at):
    me, colleague = account("duty"), account("duty")
    desk, other_desk = browser_at("10.1.1.1"), browser_at("10.1.1.1")  # one duty room behind one NAT address
    assert _fail(desk, me, PER_PAIR.amount) == [401] * PER_PAIR.amount
    refused = login(desk, me, WRONG)
    assert refused.status_code == 429, "the pair's limit is full"
    assert 0 < int(refused.headers["retry-after"]) <= PER_PAIR.get_expiry()
    assert "登录失败次数过多" in refused.text and "分钟后再试" in refused.text, refused.text
    assert login(desk, me).status_code == 429, "even the right password waits: guessing stops for this pair"
    assert login(other_desk, colleague).status_code == 303, "a colleague behind the same address signs in"
    assert login(browser_at("10.2.2.2"), me).status_code == 303, "the same person from another address signs in"

    locked = audit_entries(runtime, action="login", outcome="locked")
    assert [(e.subject, e.ip, e.detail["limit"]) for e in locked] == [(me, "10.1.1.1", "pair")]
    refusals = [e.detail for e in audit_entries(runtime, action="login", outcome="refused") if e.detail["why"] == "rate limited"]
    assert len(refusals) == 2 and all(d["limit"] == "pair" and d["retry_after"] > 0 for d in refusals)


def test_successes_never_count_and_clear_the_pair(runtime, account, browser_at):
    me = account("leader", runtime.areas.at_level(1)[0].code)
    desk = browser_at("10.1.1.2")
    for _ in range(PER_PAIR.amount * 2 + 1):
        assert login(desk, me).status_code == 303, "successes are not limited"
    for _ in range(3):  # 4 failures then a success, three times over: 12 failures in all
        assert _fail(desk, me, PER_PAIR.amount - 1) == [401] * (PER_PAIR.amount - 1)
        assert login(desk, me).status_code == 303, "a success clears the pair's failures"
    assert not audit_entries(runtime, action="login", outcome="locked")


def test_the_account_limit_across_addresses_spares_browsers_that_signed_in_before(runtime, account, browser_at):
    me = account("duty")
    my_desk = browser_at("10.1.1.3")
    assert login(my_desk, me).status_code == 303  # this browser is now known for this account
    per_address = PER_PAIR.amount - 1
    addresses = [f"172.16.0.{i}" for i in range(1, PER_ACCOUNT.amount // per_address + 1)]
    for address in addresses:  # credential stuffing: a few guesses from each of many addresses
        assert _fail(browser_at(address), me, per_address) == [401] * per_address
    new_browser = browser_at("172.16.1.1")
    r = login(new_browser, me)
    assert r.status_code == 429 and "分钟后再试" in r.text, "the account refuses browsers it does not know"
    assert login(my_desk, me).status_code == 303, "its owner's browser still signs in"
    assert login(browser_at("10.1.1.3"), me).status_code == 429, "the address alone is no proof: a new browser there waits"
    locked = audit_entries(runtime, action="login", outcome="locked")
    assert [(e.subject, e.detail["limit"]) for e in locked] == [(me, "account")]


def test_the_address_limit_spares_accounts_that_sign_in_correctly_from_known_browsers(runtime, account, browser_at):
    colleague = account("duty")
    colleague_desk = browser_at("10.9.9.9")
    assert login(colleague_desk, colleague).status_code == 303
    sprayer = browser_at("10.9.9.9")
    for i in range(PER_ADDRESS.amount):  # password spraying: one guess at each of many accounts
        assert login(sprayer, f"someone{i}", WRONG).status_code == 401
    assert login(sprayer, "someone-else", WRONG).status_code == 429, "the address is refused for new guesses"
    assert login(colleague_desk, colleague).status_code == 303, "a colleague's known browser behind it signs in"
    assert login(browser_at("10.9.9.10"), "someone-else", WRONG).status_code == 401, "other addresses are not affected"
    locked = audit_entries(runtime, action="login", outcome="locked")
    assert [(e.ip, e.detail["limit"]) for e in locked] == [("10.9.9.9", "address")]


def test_a_locked_out_admin_has_a_way_back(runtime, account, browser_at):
    admin = account("admin")
    desk = browser_at("10.1.1.4")
    _fail(desk, admin, PER_PAIR.amount)
    assert login(desk, admin).status_code == 429
    for i in range(PER_ACCOUNT.amount // (PER_PAIR.amount - 1) + 1):
        _fail(browser_at(f"172.17.0.{i}"), admin, PER_PAIR.amount - 1)
    assert login(browser_at("10.1.1.5"), admin).status_code == 429, "locked out on every count"

    env = {**os.environ, "BIGSCREEN_DATA_DIR": str(runtime.settings.data_dir),
           "BIGSCREEN_DATABASE_URL": runtime.settings.database_url, "BIGSCREEN_REDIS_URL": runtime.settings.redis_url}

    def unlock(*args):
        return subprocess.run([sys.executable, "-m", "bigscreen.cli", "user", "unlock", *args],
                              capture_output=True, text=True, env=env, timeout=60)

    nobody = unlock("nobody")
    assert nobody.returncode == 2 and "no account 'nobody'" in nobody.stderr and "Traceback" not in nobody.stderr
    done = unlock(admin)
    assert done.returncode == 0 and f"'{admin}'" in done.stdout, done.stderr
    assert login(desk, admin).status_code == 303, "signs in again where it was locked"
    assert login(browser_at("10.1.1.6"), admin).status_code == 303, "and from a new browser"
    (entry,) = audit_entries(runtime, action="unlock")
    assert entry.subject == admin and entry.channel == "system" and entry.detail["cleared"] >= 2


def test_unlocking_an_address(runtime, account, browser_at):
    sprayer = browser_at("10.8.8.8")
    for i in range(PER_ADDRESS.amount):
        login(sprayer, f"someone{i}", WRONG)
    me = account("duty")
    assert login(browser_at("10.8.8.8"), me).status_code == 429
    env = {**os.environ, "BIGSCREEN_DATA_DIR": str(runtime.settings.data_dir),
           "BIGSCREEN_DATABASE_URL": runtime.settings.database_url, "BIGSCREEN_REDIS_URL": runtime.settings.redis_url}
    done = subprocess.run([sys.executable, "-m", "bigscreen.cli", "user", "unlock", me, "--address", "10.8.8.8"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert login(browser_at("10.8.8.8"), me).status_code == 303
