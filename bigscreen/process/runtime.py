"""Everything a process needs, opened once: settings, config, database, Redis, the area tree."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import Callable
from zoneinfo import ZoneInfo

import redis

from bigscreen.configuration.loading import Config, load_config
from bigscreen.db.session import make_engine, make_sessionmaker
from bigscreen.geo.areas import AreaIndex
from bigscreen.live.contrib import Contributions
from bigscreen.live.health import RedisHealth
from bigscreen.live.keys import Keys
from bigscreen.live.writer import LiveWriter
from bigscreen.process.redis_clients import redis_client
from bigscreen.process.settings import Settings

REDIS_TIMEOUT_S = 5.0


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Runtime:
    settings: Settings
    config: Config
    clock: Callable[[], datetime] = field(default=utcnow)
    stopping: threading.Event = field(default_factory=threading.Event, init=False, repr=False)  # the process is stopping: long jobs end
    _closing: list[Callable[[], None]] = field(default_factory=list, init=False, repr=False)

    @classmethod
    def open(cls, settings: Settings, config: Config | None = None) -> Runtime:
        return cls(settings, config or load_config(settings.config_dir))

    @cached_property
    def engine(self):
        return make_engine(self.settings.sqlalchemy_url, sqlite_busy_timeout_s=self.settings.sqlite_busy_timeout_s,
                           pool_size=self.settings.db_pool_size)

    @cached_property
    def sessions(self):
        return make_sessionmaker(self.engine)

    @cached_property
    def health(self) -> RedisHealth:
        """Whether Redis answers and its figures can be trusted, as this process's LiveWatch last saw."""
        return RedisHealth()

    @cached_property
    def redis(self) -> redis.Redis:
        # a hung Redis must fail requests, not stall the worker that waits on it; while it is known
        # to be down, the pool refuses at once (bigscreen.live.health)
        return redis_client(self.settings, timeout_s=REDIS_TIMEOUT_S, health=self.health, health_check_interval=30)

    @cached_property
    def keys(self) -> Keys:
        return Keys(self.settings.key_prefix)

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.config.city.timezone)

    @cached_property
    def contributions(self) -> Contributions:
        return Contributions(self.keys, self.tz)

    @cached_property
    def live(self) -> LiveWriter:
        return LiveWriter(self.redis, self.keys, self.contributions,
                          first_notice_s=self.config.city.supervision.first_after_hours * 3600,
                          on_lost=self.health.note_failure)

    @cached_property
    def areas(self) -> AreaIndex:
        version = self.map_version()  # read first: a map stored meanwhile shows as a newer version later
        with self.sessions() as session:
            return AreaIndex.load(session, self.config.city.levels, self.sessions, version)

    def map_version(self) -> str | None:
        """The map's version in Redis (`map:version`, set by `city import` or `city build`; "" before any), or None when
        Redis cannot be asked. On a connection of its own: a failure here is no lost write."""
        if not self.settings.redis_configured:
            return None
        try:
            client = redis_client(self.settings, timeout_s=2)
            try:
                value = client.get(self.keys.map_version)
            finally:
                client.close()
        except (redis.RedisError, OSError):
            return None
        return value.decode() if value else ""

    def reload_areas(self, version: str | None) -> AreaIndex:
        """Reads the area tree again (a new map was stored) and puts it in place of the one held, its
        point index built first, so that no request waits for it. Code holding the old index keeps a
        consistent one until it asks `areas` again."""
        with self.sessions() as session:
            index = AreaIndex.load(session, self.config.city.levels, self.sessions, version)
        if index.at_level(index.grid_level):
            index.locator
        self.__dict__["areas"] = index
        return index

    def on_close(self, close: Callable[[], None]) -> None:
        """Something opened for this process (the ingest writer, say) that `close` must close first."""
        self._closing.append(close)

    def close(self) -> None:
        while self._closing:
            self._closing.pop()()
        if "redis" in self.__dict__:
            self.redis.close()
        if "engine" in self.__dict__:
            self.engine.dispose()
