"""Fixtures of the fault tests: a data dir holding the small test city, and the app served by real
`bigscreen serve` processes on it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fault_support import SOURCE
from tests_support import free_port

from bigscreen.runtime import Runtime
from bigscreen.settings import Settings


@dataclass
class CityDir:
    data_dir: Path
    database_url: str
    api_key: str
    wall_token: str


@pytest.fixture
def city_dir(tmp_path, test_config, city_plan) -> CityDir:
    """A data dir whose SQLite database holds the small test city, a source's API key and a kiosk token."""
    from bigscreen.api.auth import create_api_key
    from bigscreen.auth.kiosk import create_kiosk_token
    from bigscreen.geo.citybuild import store_city
    from bigscreen.setup import prepare_database

    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir)
    rt = Runtime(settings, test_config)
    prepare_database(rt)
    with rt.sessions() as session, session.begin():
        store_city(session, city_plan)
    key, token = create_api_key(rt, SOURCE), create_kiosk_token(rt, "故障测试大屏")
    rt.close()
    return CityDir(data_dir, settings.sqlalchemy_url, key, token)


class Served:
    """`bigscreen serve` in a process of its own, its output in a log file."""

    def __init__(self, city: CityDir, log: Path, *, workers: int = 2, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        clean = {k: v for k, v in os.environ.items() if not k.startswith("BIGSCREEN_")}
        self._out = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bigscreen.cli", "serve", "--data-dir", str(city.data_dir), "--port", str(self.port),
             "--workers", str(workers)],
            env={**clean, **(env or {})}, stdout=self._out, stderr=subprocess.STDOUT)
        self.key = city.api_key

    def wait_ready(self, timeout: float = 90) -> Served:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            try:
                if httpx.get(self.url + "/api/v1/kpi", headers={"X-API-Key": self.key}, timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"serve did not answer within {timeout} s:\n{self.output()}")

    def output(self) -> str:
        self._out.flush()
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._out.close()
        return self.proc.returncode


@pytest.fixture
def serve(tmp_path):
    """serve(city, workers=2, env={...}) starts `bigscreen serve` and waits until it answers."""
    started: list[Served] = []

    def start(city: CityDir, **kw) -> Served:
        s = Served(city, tmp_path / f"serve-{len(started)}.log", **kw)
        started.append(s)
        return s.wait_ready()

    yield start
    for s in started:
        s.stop()
