"""Process settings from the environment (BIGSCREEN_*); the domain lives in config/."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BIGSCREEN_", extra="ignore")

    data_dir: Path = Field(Path("./data"), description="Where the embedded database, Redis and the built city live.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite file in the data dir.")
    redis_url: str | None = Field(None, description="Redis URL; default: an embedded redis-server on a unix socket in the data dir.")
    config_dir: Path = Field(REPO_CONFIG_DIR, description="Directory of the admin-editable YAML configuration.")
    max_body_bytes: int = Field(2_000_000, description="Largest accepted request body (HTTP 413 above).")
    max_batch: int = Field(1000, description="Most events in one POST.")
    redis_prefix: str = Field("bs:", description="Prefix of every Redis key.")
    sqlite_busy_timeout_s: float = Field(30.0, gt=0, description="SQLite: how long a write waits for a lock held by "
                                         "another process before its request answers 503 (Retry-After).")
    secure_cookies: bool = Field(False, description="Mark session cookies Secure (only sent over HTTPS).")
    ws_deflate: bool = Field(False, description="Compress websocket messages (permessage-deflate). Off: a pushed "
                                                "frame is ~17 KB instead of ~5 KB, and 500 walls cost a seventh of the CPU.")
    run_jobs: bool = Field(True, description="Web workers also run the scheduled jobs and the wall's frames "
                                             "(one process among all of them leads at a time).")

    ready_frame_age_s: float = Field(30.0, gt=0, description="/readyz fails when the city wall's frame is older than this.")
    metrics_token: SecretStr | None = Field(None, description="Bearer token that may read /metrics from any address.")
    metrics_allow: str = Field("127.0.0.0/8,::1", description="Addresses (comma-separated, CIDR) that may read /metrics "
                               "without a token. Behind a proxy on this machine every request comes from loopback: "
                               "block /metrics there or set this empty and use a token.")

    @field_validator("metrics_allow")
    @classmethod
    def _networks(cls, value: str) -> str:
        import ipaddress

        for net in value.split(","):
            if net.strip():
                ipaddress.ip_network(net.strip(), strict=False)  # ValueError names the bad entry
        return value

    @field_validator("data_dir", "config_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'bigscreen.db'}"

    @cached_property
    def redis_socket(self) -> Path:
        return self.data_dir / "redis" / "redis.sock"
