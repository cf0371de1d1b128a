"""Login limits: failures are counted, successes are not; first per account and client, then
looser per account and per address (the `limits` library's moving windows on our Redis).

A *client* is the browser when it holds a device cookie that has signed this account in before
(a *known browser*), else the address. Three windows:

- pair (account, client): `PER_PAIR` failures, then this client waits, even with the right
  password. A success clears it. One person's typos lock nobody else out, also not a colleague
  behind the same NAT address.
- account, over unknown clients: `PER_ACCOUNT` failures from anywhere (credential stuffing
  against one account), then unknown clients wait; the account's known browsers do not.
- address, over unknown clients: `PER_ADDRESS` failures of any accounts (password spraying),
  then unknown clients there wait; known browsers behind the address do not.

A known browser's failures count only in its own pair: it is the owner mistyping, and an
attacker without the cookie cannot lock it out. `unlock` (the `bigscreen user unlock` command) is
the way back for anyone, the last admin included.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from dataclasses import dataclass

from limits import parse
from limits.storage import RedisClusterStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter

from bigscreen.process.runtime import REDIS_TIMEOUT_S, Runtime

PER_PAIR = parse("5/15minutes")
PER_ACCOUNT = parse("20/15minutes")
PER_ADDRESS = parse("50/15minutes")
DEVICE_COOKIE = "bs_device"
DEVICE_DAYS = 90  # a browser stays known this long after its last successful sign-in
_NAMESPACES = {"pair": "login-pair", "account": "login-account", "address": "login-address"}


@dataclass(frozen=True)
class Attempt:
    account: str         # lower-cased: "Admin" and "admin" share their windows
    address: str
    device: str | None   # the device cookie's digest when it has signed this account in before

    @property
    def known(self) -> bool:
        return self.device is not None

    @property
    def client(self) -> str:
        return f"device:{self.device}" if self.device else f"ip:{self.address}"


@dataclass(frozen=True)
class Refusal:
    limit: str        # pair, account or address
    retry_after: int  # seconds until the window takes an attempt again


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class LoginLimiter:
    def __init__(self, rt: Runtime) -> None:
        self.redis, self.keys = rt.redis, rt.keys
        if rt.settings.redis_cluster:  # the library's own cluster client: its windows are one key each
            password = rt.settings.redis_password
            self._storage = RedisClusterStorage(f"redis+cluster://{rt.settings.redis_cluster.replace(' ', '')}",
                                                key_prefix=rt.keys.limits, socket_timeout=REDIS_TIMEOUT_S,
                                                **({"password": password.get_secret_value()} if password else {}))
        else:
            self._storage = RedisStorage("redis://unused", connection_pool=rt.redis.connection_pool,
                                         key_prefix=rt.keys.limits)
        self._limiter = MovingWindowRateLimiter(self._storage)

    def attempt(self, username: str, address: str | None, device_token: str | None) -> Attempt:
        account = username.strip().lower()
        device = _digest(device_token) if device_token else None
        if device and not self.redis.sismember(self.keys.login_device(device), account):
            device = None
        return Attempt(account, address or "-", device)

    def _windows(self, a: Attempt) -> list[tuple[str, object, tuple[str, ...]]]:
        pair = ("pair", PER_PAIR, (a.account, a.client))
        if a.known:
            return [pair]
        return [pair, ("account", PER_ACCOUNT, (a.account,)), ("address", PER_ADDRESS, (a.address,))]

    def admit(self, a: Attempt) -> Refusal | None:
        """Before the password is checked: a refusal when a window is full. Takes the pair's slot
        at once (atomically, so parallel guesses cannot pass together); `succeeded` gives it back."""
        pair, *wider = self._windows(a)
        for name, item, ids in wider:
            if not self._limiter.test(item, _NAMESPACES[name], *ids):
                return self._refusal(name, item, ids)
        name, item, ids = pair
        if not self._limiter.hit(item, _NAMESPACES[name], *ids):
            return self._refusal(name, item, ids)
        return None

    def failed(self, a: Attempt) -> list[str]:
        """Counts a wrong password in the wider windows (the pair's was counted by `admit`);
        returns the windows this failure filled: each is a lock-out beginning."""
        filled = []
        for name, item, ids in self._windows(a):
            if name != "pair":
                self._limiter.hit(item, _NAMESPACES[name], *ids)
            if self._limiter.get_window_stats(item, _NAMESPACES[name], *ids).remaining <= 0:
                filled.append(name)
        return filled

    def succeeded(self, a: Attempt, device_token: str | None) -> str:
        """Clears the pair's failures and makes this browser known for the account; returns the
        device token the browser keeps (a new one if it had none)."""
        self._limiter.clear(PER_PAIR, _NAMESPACES["pair"], a.account, a.client)
        token = device_token or secrets.token_urlsafe(32)
        key = self.keys.login_device(_digest(token))
        pipe = self.redis.pipeline(transaction=True)
        pipe.sadd(key, a.account)
        pipe.expire(key, DEVICE_DAYS * 86400)
        pipe.execute()
        return token

    def retry_after(self, name: str, a: Attempt) -> int:
        for window, item, ids in self._windows(a):
            if window == name:
                return self._refusal(name, item, ids).retry_after
        raise KeyError(name)

    def _refusal(self, name: str, item, ids: tuple[str, ...]) -> Refusal:
        reset = self._limiter.get_window_stats(item, _NAMESPACES[name], *ids).reset_time
        return Refusal(name, max(1, math.ceil(reset - time.time())))

    def unlock(self, username: str, address: str | None = None) -> int:
        """Clears an account's failures (every pair and the account's window) and, given an
        address, that address's window. Returns how many windows held failures."""
        account = username.strip().lower()
        prefix = f"{self._storage.key_prefix}:"
        pairs = f"{prefix}LIMITER/{_NAMESPACES['pair']}/{account}/"
        keys = list(self.redis.scan_iter(match=_glob(pairs) + "*", count=1000))
        keys.append(prefix + PER_ACCOUNT.key_for(_NAMESPACES["account"], account))
        if address:
            keys.append(prefix + PER_ADDRESS.key_for(_NAMESPACES["address"], address))
        return self.redis.delete(*keys)


def _glob(text: str) -> str:
    """`text` matched literally by a Redis SCAN pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
