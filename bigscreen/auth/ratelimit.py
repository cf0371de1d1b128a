"""Login attempts, limited per account and per address (the `limits` library on our Redis)."""

from __future__ import annotations

from limits import parse
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from bigscreen.runtime import Runtime

PER_ACCOUNT = parse("5/5minutes")
PER_ADDRESS = parse("20/5minutes")


class LoginLimiter:
    def __init__(self, rt: Runtime) -> None:
        storage = RedisStorage("redis://unused", connection_pool=rt.redis.connection_pool,
                               key_prefix=f"{rt.keys.prefix}limits")
        self._limiter = MovingWindowRateLimiter(storage)

    def allow(self, username: str, ip: str | None) -> bool:
        """Counts one attempt; False once either window is full."""
        account = self._limiter.hit(PER_ACCOUNT, "login-user", username.lower())
        address = self._limiter.hit(PER_ADDRESS, "login-ip", ip or "-")
        return account and address
