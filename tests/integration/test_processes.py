"""The commands as a user runs them: the demo starts, moves numbers and stops cleanly."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
from tests_support import free_port

from bigscreen.process.settings import REPO_CONFIG_DIR


def _bigscreen(*args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bigscreen.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120, **kw)


# What a quiet stop never logs: errors, tracebacks, refused connections, warnings of the demo's own clients.
# (Other warnings, e.g. escalation notices through the log sender, may come from before the signal.)
QUIET_BREAKERS = r"\b(ERROR|CRITICAL)\b|Traceback|Error:|refused|WARNING bigscreen\.(simulate|simulation|demo)\b"


def _redis_children(data_dir: Path) -> list[str]:
    out = subprocess.run(["pgrep", "-fa", "redis-server"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if str(data_dir) in line]


def test_demo_runs_moves_numbers_and_stops_cleanly(tmp_path):
    data_dir, port = tmp_path / "data", free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bigscreen.cli", "demo", "--data-dir", str(data_dir), "--port", str(port),
                             "--backfill-days", "0", "--rate", "20"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        key, wall, lines = None, None, []
        deadline = time.monotonic() + 90
        while key is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if m := re.search(r"(bsk_[\w-]+)", line):
                key = m.group(1)
            if m := re.search(r"(/wall\?token=bsw_[\w-]+)", line):
                wall = m.group(1)
        assert key and wall, "".join(lines)
        assert re.search(r"duty +demo-duty +password \S+", "".join(lines)), "the demo prints its accounts"
        assert _redis_children(data_dir), "the demo runs its own redis-server in the data dir"
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(url + wall).status_code == 200, "the printed wall URL opens the wall"
        assert httpx.get(url + "/wall").status_code == 303, "without its token the wall asks to sign in"
        first = None
        for _ in range(100):
            kpi = httpx.get(url + "/api/v1/kpi", headers={"X-API-Key": key}).json()
            first = first if first is not None else kpi["reported_today"]
            if kpi["reported_today"] > first:
                break
            time.sleep(0.2)
        assert kpi["reported_today"] > first, "the simulator's events reach the live figures"
        time.sleep(1)  # the simulator busy posting (20 reports a second) when the stop comes
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        after = proc.stdout.read()
        assert after.rstrip().endswith("demo stopped"), after
        loud = [line for line in after.splitlines() if re.search(QUIET_BREAKERS, line)]
        assert not loud, "stopping stops the demo's own clients first, quietly:\n" + after
        assert not _redis_children(data_dir), "no redis-server left behind"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_demo_backfill_replays_every_case_before_the_clock_judges_it(tmp_path):
    """The deadline sweep and supervision wait while the history is sent: otherwise a backfilled case
    counts as late, gets supervised at today's time, and its past steps are then refused."""
    data_dir, port = tmp_path / "data", free_port()
    proc = _demo(data_dir, port, "--backfill-days", "1", "--rate", "0.02", env=_small_city(tmp_path))
    try:
        lines, deadline = [], time.monotonic() + 150
        while time.monotonic() < deadline and not any("simulator backfill:" in line for line in lines):
            lines.append(proc.stdout.readline())
        done = next((line for line in lines if "simulator backfill:" in line), None)
        assert done, "".join(lines)
        created = int(re.search(r"backfill: (\d+) events created", done).group(1))
        assert created >= 1000 and "'step_close'" in done, done
        assert "backfill_rejected" not in done and "backfill_conflict" not in done and f"'backfill_ok': {created}" in done, done
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def _demo(data_dir: Path, port: int, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bigscreen.cli", "demo", "--data-dir", str(data_dir), "--port", str(port),
                             *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, **(env or {})})


def _small_city(tmp_path: Path) -> dict:
    """The environment of a demo of a city of 300 grids (the suite's test city) instead of 6,000: the history's
    reports are as many (they follow the rate, not the map), its field work and the city's build a twentieth."""
    config = tmp_path / "config"
    shutil.copytree(REPO_CONFIG_DIR, config)
    text = (config / "city.yaml").read_text()
    assert "grids: 6000 " in text and "population: 2200000 " in text
    (config / "city.yaml").write_text(text.replace("grids: 6000 ", "grids: 300 ").replace("population: 2200000 ", "population: 300000 "))
    return {"BIGSCREEN_CONFIG_DIR": str(config)}


def _read_until(proc: subprocess.Popen, pattern: str, within_s: float) -> list[str]:
    lines, deadline = [], time.monotonic() + within_s
    while time.monotonic() < deadline and not (lines and re.search(pattern, lines[-1])):
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        lines.append(line)
    assert lines and re.search(pattern, lines[-1]), "".join(lines)
    return lines


def _stop_quietly(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    after = proc.stdout.read()
    loud = [line for line in after.splitlines() if re.search(QUIET_BREAKERS, line)]
    assert not loud and after.rstrip().endswith("demo stopped"), after
    return after


def test_a_demo_stopped_during_its_history_stops_quietly_and_the_next_start_sends_the_rest(tmp_path):
    """The history is sent in process in seconds; Ctrl-C in the middle of it stops it between batches (nothing
    logged), and the next start sends what is missing instead of leaving a hole in the trend."""
    data_dir, port, env = tmp_path / "data", free_port(), _small_city(tmp_path)
    proc = _demo(data_dir, port, "--backfill-days", "1", "--rate", "0.05", env=env)
    try:
        sending = _read_until(proc, r"sending the (history|last)", 150)[-1]
        _stop_quietly(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    reports = int(re.search(r"\((\d+) reports\)", sending).group(1))
    plan = json.loads((data_dir / "demo-history.json").read_text())
    assert reports > 2000 and not plan["done"] and _history_reports(data_dir) < reports
    proc = _demo(data_dir, port, "--backfill-days", "1", "--rate", "0.05", env=env)
    try:
        lines = _read_until(proc, r"history sent in", 150)
        assert _history_reports(data_dir) == reports, "the rest of the history, and nothing twice"
        if not any("Ctrl-C stops everything" in line for line in lines):  # the banner comes once the URL answers
            _read_until(proc, r"Ctrl-C stops everything", 60)
        _stop_quietly(proc)
    finally:
        if proc.poll() is None:
            proc.kill()


def _history_reports(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "bigscreen.db") as db:
        return db.execute("SELECT count(*) FROM events WHERE source_id LIKE 'history-%'").fetchone()[0]


def test_apikey_create_prints_a_key_that_authenticates(tmp_path):
    r = _bigscreen("apikey", "create", "--source", "hotline-12345", "--data-dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"bsk_[\w-]{20,}\n", r.stdout)
    bad = _bigscreen("apikey", "create", "--source", " ", "--data-dir", str(tmp_path))
    assert bad.returncode != 0 and "--source" in bad.stderr


def test_broken_config_names_file_and_key(tmp_path):
    config = tmp_path / "config"
    shutil.copytree(REPO_CONFIG_DIR, config)
    text = (config / "city.yaml").read_text().replace("zoom: 9", "zoom: nine")
    (config / "city.yaml").write_text(text)
    r = _bigscreen("check-config", env={"BIGSCREEN_CONFIG_DIR": str(config)})
    assert r.returncode != 0
    assert "city.yaml" in r.stderr and "zoom" in r.stderr and "Traceback" not in r.stderr
    ok = _bigscreen("check-config")
    assert ok.returncode == 0 and "15 categories" in ok.stdout


def test_bad_settings_and_config_stop_commands_with_a_clear_line(tmp_path):
    r = _bigscreen("init", "--data-dir", str(tmp_path), env={"BIGSCREEN_MAX_BODY_BYTES": "lots"})
    assert r.returncode != 0 and "BIGSCREEN_MAX_BODY_BYTES" in r.stderr and "Traceback" not in r.stderr
    config = tmp_path / "config"
    shutil.copytree(REPO_CONFIG_DIR, config)
    (config / "dispatch.yaml").write_text((config / "dispatch.yaml").read_text() + "\nsurprise: 1\n")
    r = _bigscreen("demo", "--data-dir", str(tmp_path / "d"), env={"BIGSCREEN_CONFIG_DIR": str(config)})
    assert r.returncode != 0 and "dispatch.yaml" in r.stderr and "surprise" in r.stderr and "Traceback" not in r.stderr
