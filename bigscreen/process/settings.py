"""Process settings from the environment (BIGSCREEN_*); the domain lives in config/."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BIGSCREEN_", extra="ignore")

    data_dir: Path = Field(Path("./data"), description="Where the embedded database, Redis and the built city live.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite file in the data dir.")
    redis_url: str | None = Field(None, description="Redis URL; default: an embedded redis-server on a unix socket in the data dir.")
    redis_sentinels: str | None = Field(None, description="Redis Sentinel instead of a URL: the sentinels' addresses, "
                                        "`host:port,host:port,...`; the app asks them for the master (and again after a "
                                        "failover). Needs BIGSCREEN_REDIS_SENTINEL_MASTER; excludes BIGSCREEN_REDIS_URL.")
    redis_sentinel_master: str | None = Field(None, description="The name the sentinels monitor the master by "
                                              "(`sentinel monitor NAME ...`).")
    redis_sentinel_password: SecretStr | None = Field(None, description="The sentinels' own password (their "
                                                      "`requirepass`), if they have one.")
    redis_cluster: str | None = Field(None, description="Redis Cluster instead of a URL: some of its nodes' addresses, "
                                      "`host:port,host:port,...`; the app learns the rest from them. Every key of the app "
                                      "then carries one hash tag (see docs/DEPLOY.md, \"Redis Cluster\"). Excludes "
                                      "BIGSCREEN_REDIS_URL and BIGSCREEN_REDIS_SENTINELS.")
    redis_password: SecretStr | None = Field(None, description="With sentinels or a cluster: the Redis servers' password "
                                             "(a URL carries its own).")
    redis_db: int = Field(0, ge=0, description="With sentinels: the database number (a URL carries its own).")
    config_dir: Path = Field(REPO_CONFIG_DIR, description="Directory of the admin-editable YAML configuration.")
    max_body_bytes: int = Field(2_000_000, description="Largest accepted request body (HTTP 413 above).")
    max_batch: int = Field(1000, description="Most events in one POST.")
    redis_prefix: str = Field("bs:", description="Prefix of every Redis key.")
    sqlite_busy_timeout_s: float = Field(30.0, gt=0, description="SQLite: how long a write waits for a lock held by "
                                         "another process before its request answers 503 (Retry-After).")
    db_pool_size: int = Field(20, ge=4, le=500, description="Database connections each process keeps open. A web worker "
                              "runs at most this many requests' database work at once, less a few for its own threads "
                              "(bigscreen.process.worker_threads); keep the sum over every process under the "
                              "server's max_connections.")
    chromium: str = Field("/usr/bin/chromium", description="The Chromium (or Chrome) executable that prints reports "
                          "to PDF, a path or a command name on PATH.")
    report_nice: int = Field(10, ge=0, le=19, description="How far below the scheduler's CPU priority its scheduled "
                             "reports are made (nice(1)), in a process of their own and their Chromium: the wall's "
                             "frames, built by the same scheduler, keep their pace while a catch-up runs.")
    secure_cookies: bool = Field(False, description="Mark session cookies Secure (only sent over HTTPS).")
    ws_deflate: bool = Field(False, description="Compress websocket messages (permessage-deflate). Off: a pushed "
                                                "frame is ~17 KB instead of ~5 KB, and 500 walls cost a seventh of the CPU.")
    run_jobs: bool = Field(True, description="Web workers also run the scheduled jobs and the wall's frames "
                                             "(one process among all of them leads at a time).")

    leader_ttl_s: float = Field(15.0, ge=3, description="How long the scheduler's leader lock lasts unrenewed (renewed "
                                "every third of it): a leader that dies is replaced within about this long.")
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

    @field_validator("redis_sentinels", "redis_cluster")
    @classmethod
    def _addresses(cls, value: str | None, info) -> str | None:
        if value is not None:
            parse_addresses(value, f"BIGSCREEN_{info.field_name.upper()}")  # ValueError names the bad entry
        return value

    @model_validator(mode="after")
    def _one_way_to_redis(self) -> Settings:
        if self.redis_cluster:
            others = [name for name, value in (("BIGSCREEN_REDIS_URL", self.redis_url),
                                               ("BIGSCREEN_REDIS_SENTINELS", self.redis_sentinels),
                                               ("BIGSCREEN_REDIS_SENTINEL_MASTER", self.redis_sentinel_master),
                                               ("BIGSCREEN_REDIS_SENTINEL_PASSWORD", self.redis_sentinel_password),
                                               ("BIGSCREEN_REDIS_DB", self.redis_db or None)) if value]
            if others:
                raise ValueError(f"BIGSCREEN_REDIS_CLUSTER and {', '.join(others)} are both set: the app finds Redis one "
                                 "way, and a cluster has one database (0)")
        elif self.redis_sentinels:
            if self.redis_url:
                raise ValueError("BIGSCREEN_REDIS_URL and BIGSCREEN_REDIS_SENTINELS are both set: "
                                 "the app finds Redis one way, set only one of them")
            if not self.redis_sentinel_master:
                raise ValueError("BIGSCREEN_REDIS_SENTINELS is set without BIGSCREEN_REDIS_SENTINEL_MASTER: "
                                 "name the master the sentinels monitor")
        else:
            given = [name for name, value in (("BIGSCREEN_REDIS_SENTINEL_MASTER", self.redis_sentinel_master),
                                              ("BIGSCREEN_REDIS_SENTINEL_PASSWORD", self.redis_sentinel_password),
                                              ("BIGSCREEN_REDIS_PASSWORD", self.redis_password),
                                              ("BIGSCREEN_REDIS_DB", self.redis_db or None)) if value]
            if given:
                raise ValueError(f"{', '.join(given)} set without BIGSCREEN_REDIS_SENTINELS: these are for Redis "
                                 "Sentinel (the password also for BIGSCREEN_REDIS_CLUSTER); a BIGSCREEN_REDIS_URL "
                                 "carries its own password and database")
        return self

    @property
    def redis_configured(self) -> bool:
        """Redis is given (a URL or sentinels); otherwise the data dir's embedded server is used."""
        return bool(self.redis_url or self.redis_sentinels or self.redis_cluster)

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        return parse_addresses(self.redis_sentinels or "")

    @property
    def cluster_addresses(self) -> list[tuple[str, int]]:
        return parse_addresses(self.redis_cluster or "", "BIGSCREEN_REDIS_CLUSTER")

    @property
    def key_prefix(self) -> str:
        """The prefix of every Redis key: `redis_prefix`, made a hash tag on a cluster (`bs:` → `{bs}:`), so
        that every key lands in one slot and every script and transaction may touch any of them together
        (a counter script moves an area's whole chain, the deadline sets and the resync's gate at once).
        A prefix that holds a tag already is kept."""
        p = self.redis_prefix
        if not self.redis_cluster or ("{" in p and "}" in p.split("{", 1)[1]):
            return p
        bare = p.rstrip(":")
        return f"{{{bare}}}{p[len(bare):]}"

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


def parse_addresses(value: str, setting: str = "BIGSCREEN_REDIS_SENTINELS") -> list[tuple[str, int]]:
    """`host:port,host:port` (IPv6 as `[::1]:26379`) as pairs; ValueError names the bad entry."""
    out = []
    for entry in (e.strip() for e in value.split(",")):
        if not entry:
            continue
        host, sep, port = entry.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{setting}: {entry!r} is not host:port")
        out.append((host, int(port)))
    if not out:
        raise ValueError(f"{setting} names no {'node' if setting.endswith('CLUSTER') else 'sentinel'} (host:port,host:port,...)")
    return out
