"""Reports on a schedule: the leading scheduler's job produces the week, month and quarter that are
due for the city and every district, exactly one per period and area however often it runs; people
list and download them by role and area (a leader only its own area and below)."""

from __future__ import annotations

from datetime import datetime, time
from io import BytesIO
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select
from tests_support import SQLITE_ONLY, audit_entries, login, proc_stat, processes_below

from bigscreen.app import create_app
from bigscreen.auth.sessions import CSRF_COOKIE
from bigscreen.db.models import ReportFile
from bigscreen.jobs.reports import produce_due_reports
from tests.integration.test_report_figures import placed  # noqa: F401 - the fixture: cases placed by hand

BJ = ZoneInfo("Asia/Shanghai")


def _files(rt) -> list[tuple[str, str]]:
    """The (period, area) of every report stored, once each if each is kept whole: in every format
    `scheduled_reports.formats` names, and no other."""
    with rt.engine.connect() as conn:
        rows = conn.execute(select(ReportFile.period, ReportFile.area_code, ReportFile.format)).all()
    kept = {(p, a) for p, a, _f in rows}
    formats = rt.config.city.scheduled_reports.formats
    assert sorted(rows) == sorted((p, a, f) for p, a in kept for f in formats), f"{', '.join(formats)}, once each"
    return sorted(kept)


def _formats(rt, monkeypatch, formats: list[str]) -> None:
    plan = rt.config.city.scheduled_reports.model_copy(update={"formats": formats})
    monkeypatch.setattr(rt.config, "city", rt.config.city.model_copy(update={"scheduled_reports": plan}))


@SQLITE_ONLY
def test_each_due_report_is_produced_once_for_the_city_and_every_district(placed, monkeypatch):  # noqa: F811
    """(Kept as HTML and XLSX: 31 reports; the PDF of a scheduled report is the next test's.)"""
    rt, districts, _ = placed
    _formats(rt, monkeypatch, ["html", "xlsx"])
    rt.clock = lambda: datetime(2026, 11, 30, 7, 59, tzinfo=BJ)  # Monday, a minute before the weekly report is due
    first = produce_due_reports(rt)
    assert ("2026-W48", rt.areas.city.code) not in _files(rt)
    assert ("2026-W47", rt.areas.city.code) in _files(rt)

    rt.clock = lambda: datetime(2026, 11, 30, 8, 0, tzinfo=BJ)
    assert produce_due_reports(rt) == 1 + len(districts)  # the week just ended, for the city and each district
    assert produce_due_reports(rt) == 0, "a report stored is not produced twice"
    codes = {rt.areas.city.code, *(d.code for d in districts)}
    assert {code for period, code in _files(rt) if period == "2026-W48"} == codes
    with rt.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ReportFile)) == 2 * len(_files(rt)) == 2 * (first + 1 + len(districts))
        assert len(set(_files(rt))) == len(_files(rt))
    # the month before (October) and the quarter before (Q3): within the history (from November 2025), so produced too
    assert {p for p, _ in _files(rt)} == {"2026-W47", "2026-W48", "2026-10", "2026-Q3"}

    rt.clock = lambda: datetime(2026, 12, 1, 8, 5, tzinfo=BJ)
    assert produce_due_reports(rt) == 1 + len(districts), "November's month, once due"
    assert {p for p, _ in _files(rt)} == {"2026-W47", "2026-W48", "2026-10", "2026-11", "2026-Q3"}

    with rt.engine.begin() as conn:  # one format of one report lost: the report is made again, replacing the others
        lost = conn.execute(ReportFile.__table__.delete().where(ReportFile.period == "2026-11", ReportFile.format == "xlsx",
                                                                ReportFile.area_code == rt.areas.city.code)).rowcount
    assert lost == 1 and produce_due_reports(rt) == 1
    assert len(_files(rt)) == 5 * (1 + len(districts))


@SQLITE_ONLY
def test_the_levels_and_the_hour_come_from_config(placed, monkeypatch):  # noqa: F811
    """(Kept in every format, the PDF printed by the job's one Chromium.)"""
    rt, districts, _ = placed
    assert rt.config.city.scheduled_reports.formats == ["html", "pdf", "xlsx"], "every format unless told"
    plan = rt.config.city.scheduled_reports.model_copy(update={"levels": ["city"], "due_at": time(9, 30)})
    monkeypatch.setattr(rt.config, "city", rt.config.city.model_copy(update={"scheduled_reports": plan}))
    rt.clock = lambda: datetime(2026, 11, 30, 9, 29, tzinfo=BJ)  # Monday, before the configured hour
    assert produce_due_reports(rt) == 3 and {p for p, _ in _files(rt)} == {"2026-W47", "2026-10", "2026-Q3"}
    rt.clock = lambda: datetime(2026, 11, 30, 9, 30, tzinfo=BJ)
    assert produce_due_reports(rt) == 1, "the week just ended, for the city alone"
    assert {a for _, a in _files(rt)} == {rt.areas.city.code}


def _signed_in(rt, username):
    web = TestClient(create_app(rt).server, follow_redirects=False)
    assert login(web, username).status_code == 303
    web.headers["X-CSRFToken"] = web.cookies.get(CSRF_COOKIE)
    return web


@SQLITE_ONLY
def test_reports_are_listed_and_downloaded_by_role_and_area(placed, account, api_key, monkeypatch):  # noqa: F811
    rt, districts, _ = placed
    _formats(rt, monkeypatch, ["html", "xlsx"])
    rt.clock = lambda: datetime(2026, 11, 30, 9, 0, tzinfo=BJ)
    produce_due_reports(rt)
    mine, other = districts[0].code, districts[1].code

    with _signed_in(rt, account("duty")) as duty:
        every = duty.get("/api/v1/reports").json()["reports"]
        assert {r["area_code"] for r in every} == {rt.areas.city.code, *(d.code for d in districts)}
        city_week = next(r for r in every if r["area_code"] == rt.areas.city.code and r["period"] == "2026-W48"
                         and r["format"] == "xlsx")
        got = duty.get(city_week["url"])
        assert got.status_code == 200 and got.headers["content-type"].startswith("application/vnd.openxmlformats")
        assert "filename*=UTF-8''" in got.headers["content-disposition"]
        book = load_workbook(BytesIO(got.content))
        assert book["概览"]["B7"].value == 5, "the week's cases reported in the city"

    with _signed_in(rt, account("leader", mine)) as leader:
        listed = leader.get("/api/v1/reports").json()["reports"]
        assert {r["area_code"] for r in listed} == {mine}
        theirs = next(r for r in every if r["area_code"] == other)
        refused = leader.get(theirs["url"])
        assert refused.status_code == 403
        assert audit_entries(rt, action="report.read", outcome="refused"), "the refusal is in the audit trail"
        assert leader.get(next(r for r in every if r["area_code"] == mine)["url"]).status_code == 200
        assert leader.get("/api/v1/reports/999999").status_code == 404

    source = TestClient(create_app(rt).server)
    assert source.get("/api/v1/reports", headers={"X-API-Key": api_key}).status_code == 403
    assert source.get("/api/v1/reports").status_code == 401


def _descendants() -> dict[int, tuple[str, int]]:
    """pid -> (command, niceness) of every process below this one that makes reports: the reports' process, a
    Chromium (not the suite's redis-server)."""
    import os

    return {pid: (comm, nice) for pid, (_, comm, nice, command) in processes_below(os.getpid()).items()
            if comm.startswith("chrom") or b"bigscreen.jobs.reports" in command}


def _sessions_niced(pids) -> dict[int, int]:
    """session -> the nice its processes share (`/proc/PID/autogroup`, where Linux shares the CPU between
    sessions first) of each session among `pids` other than this process's."""
    import os
    import re

    out = {}
    for pid in pids:
        try:
            session, group = int(proc_stat(pid)[3]), open(f"/proc/{pid}/autogroup").read()
        except (OSError, ValueError):
            continue
        if session != os.getsid(0) and (m := re.search(r"nice (-?\d+)", group)):
            out[session] = int(m.group(1))
    return out


@SQLITE_ONLY
def test_reports_are_made_in_a_process_of_their_own_at_a_lower_priority(placed, monkeypatch, caplog):  # noqa: F811
    """The leader only finds what is due: counting, rendering and printing run in a child process niced by
    BIGSCREEN_REPORT_NICE (its Chromium too, which may not rise above it), so the wall's frames, built in the
    leader's Python, keep their pace; what the child did is logged by the leader."""
    import logging
    import os
    import threading

    rt, districts, _ = placed
    assert rt.settings.report_nice == 0, "the suite's runtimes make reports at full speed (tests/conftest.py)"
    monkeypatch.setattr(rt, "settings", rt.settings.model_copy(update={"report_nice": 10}))
    plan = rt.config.city.scheduled_reports.model_copy(update={"levels": ["city"]})
    monkeypatch.setattr(rt.config, "city", rt.config.city.model_copy(update={"scheduled_reports": plan}))
    rt.clock = lambda: datetime(2026, 11, 30, 9, 0, tzinfo=BJ)
    done: list[int] = []
    seen: dict[int, tuple[str, int]] = {}
    sessions: dict[int, int] = {}
    with caplog.at_level(logging.INFO, logger="bigscreen.jobs.reports"):
        job = threading.Thread(target=lambda: done.append(produce_due_reports(rt)))
        job.start()
        while job.is_alive():
            seen.update(_descendants())
            sessions.update(_sessions_niced(pid for pid, (comm, _) in seen.items() if comm.startswith("chrom")))
            job.join(0.05)
    low = min(19, int(proc_stat(os.getpid())[16]) + 10)
    assert done == [3] and {p for p, _ in _files(rt)} == {"2026-W48", "2026-10", "2026-Q3"}, "the week, month and quarter before"
    assert any(comm.startswith("python") and nice == low for comm, nice in seen.values()), seen
    assert any(comm.startswith("chrom") for comm, _ in seen.values()), "the PDFs printed by its Chromium"
    assert all(nice == low for comm, nice in seen.values() if comm.startswith("chrom")), seen
    if os.path.exists(f"/proc/{os.getpid()}/autogroup"):  # a kernel that shares the CPU between sessions first
        # Chromium's session of its own is niced as a whole: across sessions, a process's own nice counts for nothing
        assert sessions and set(sessions.values()) == {low}, sessions
    assert sum("produced (html" in r.getMessage() and r.name == "bigscreen.jobs.reports" for r in caplog.records) == 3


@SQLITE_ONLY
def test_a_process_that_stops_ends_its_reports_at_once_and_keeps_nothing_half_made(placed, monkeypatch, caplog, capfd):  # noqa: F811
    """A scheduler told to stop (a demo's Ctrl-C, a deploy) does not wait for a catch-up of reports to finish:
    the reports' process is ended, with its Chromium, and the next scheduler to lead makes them. The Ctrl-C
    itself, which a terminal sends to the whole group, the reports' process leaves to its leader, in silence."""
    import logging
    import os
    import threading
    import time

    rt, _, _ = placed
    plan = rt.config.city.scheduled_reports.model_copy(update={"levels": ["city"]})
    monkeypatch.setattr(rt.config, "city", rt.config.city.model_copy(update={"scheduled_reports": plan}))
    rt.clock = lambda: datetime(2026, 11, 30, 9, 0, tzinfo=BJ)
    done: list[int] = []
    with caplog.at_level(logging.INFO, logger="bigscreen.jobs.reports"):
        job = threading.Thread(target=lambda: done.append(produce_due_reports(rt)))
        job.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(c.startswith("chrom") for c, _ in _descendants().values()):
            time.sleep(0.05)  # the child counts the first reports, then starts its Chromium
        assert job.is_alive(), "its three reports counted, Chromium starting to print them when told to stop"
        family = _descendants()
        child = next(pid for pid, (comm, _) in family.items() if not comm.startswith("chrom"))
        assert os.getpgid(child) == child and os.getpgid(0) not in {os.getpgid(pid) for pid in family}, \
            "groups of their own: a Ctrl-C at the terminal (sent to the foreground group) is for the leader to act on"
        asked = time.monotonic()
        rt.stopping.set()
        job.join(10)
    assert not job.is_alive() and time.monotonic() - asked < 10 and done == [0]
    deadline = time.monotonic() + 10
    while _descendants() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _descendants() == {}, "the reports' process and its Chromium are gone"
    assert any("stopped with the process" in r.getMessage() for r in caplog.records)
    printed = capfd.readouterr()
    assert "Traceback" not in printed.err + printed.out, printed
    stored = _files(rt)
    assert len(stored) < 3, "stopped before the end"

    rt.stopping.clear()  # the next run (here: the same process, started again) makes the rest
    assert produce_due_reports(rt) == 3 - len(stored) and len(_files(rt)) == 3


KILLED_LEADER = """
import sys
from datetime import datetime
from zoneinfo import ZoneInfo
from bigscreen.configuration.loading import load_config
from bigscreen.jobs.reports import produce_due_reports
from bigscreen.process.runtime import Runtime
from bigscreen.process.settings import REPO_CONFIG_DIR, Settings

rt = Runtime(Settings(data_dir=sys.argv[1], database_url=sys.argv[2], redis_url=sys.argv[3], report_nice=0),
             load_config(REPO_CONFIG_DIR), clock=lambda: datetime(2026, 11, 30, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
print("made", produce_due_reports(rt), flush=True)
"""


@SQLITE_ONLY
def test_a_leader_killed_takes_its_reports_process_and_chromium_with_it(placed, tmp_path):  # noqa: F811
    """kill -9 of the scheduler while its reports are being made ends the reports' process and its Chromium
    (the next leader makes them), instead of leaving them to work on beside it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    rt, _, _ = placed

    def below(pid: int) -> dict[int, str]:
        """pid -> command of every live process below `pid`."""
        return {p: comm for p, (state, comm, _, _) in processes_below(pid).items() if state != "Z"}

    def alive(pids) -> list[int]:
        return [p for p in pids if os.path.exists(f"/proc/{p}") and proc_stat(p)[0] != "Z"]

    leader = subprocess.Popen([sys.executable, "-c", KILLED_LEADER, str(tmp_path / "data"), rt.settings.sqlalchemy_url,
                               rt.settings.redis_url], stdout=open(tmp_path / "leader.log", "w"), stderr=subprocess.STDOUT)
    family: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and leader.poll() is None and "chromium" not in " ".join(family.values()):
            family.update(below(leader.pid))
            time.sleep(0.1)
        assert "chromium" in " ".join(family.values()), (leader.poll(), (tmp_path / "leader.log").read_text())
        os.kill(leader.pid, signal.SIGKILL)
        leader.wait(10)
        stored = len(_files(rt))
        deadline = time.monotonic() + 20
        while alive(family) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert alive(family) == [], "the reports' process and its Chromium ended with the leader"
        assert len(_files(rt)) == stored < 18, "nothing stored after the leader died: the next one makes them"
    finally:
        if leader.poll() is None:
            leader.kill()
        for pid in alive(family):
            os.kill(pid, signal.SIGKILL)


CUT_OFF_CHILD = """
import logging, os, signal, sys
from bigscreen.jobs import reports

class Query:  # what a database library does when an exit cuts a fetch short: it logs as it unwinds
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        logging.getLogger("sqlalchemy.pool").error("Error closing cursor", exc_info=True)

signal.signal(signal.SIGTERM, reports._unwind_quietly)
with Query():
    os.kill(os.getpid(), signal.SIGTERM)
    sum(range(10))
print("not reached")
"""


STOPPED_IN_A_DESTRUCTOR = """
import os, signal, time
from bigscreen.jobs import reports

class Parser:  # a Redis parser's __del__, run by the garbage collector when the signal comes
    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        began = time.monotonic()
        while time.monotonic() - began < 0.2:
            pass

signal.signal(signal.SIGTERM, reports._unwind_quietly)
Parser()
while True:  # the reports being made
    time.sleep(0.01)
"""


def test_a_reports_process_stopped_in_a_destructor_still_stops(tmp_path):
    """A SIGTERM that lands in a destructor: the exit raised there was swallowed ("Exception ignored in:
    <function _HiredisParser.__del__>", in a `serve`'s output), and the process went on making reports while
    the stopping leader waited for it."""
    import subprocess
    import sys

    stopped = subprocess.run([sys.executable, "-c", STOPPED_IN_A_DESTRUCTOR], capture_output=True, text=True, timeout=20)
    assert stopped.returncode == 1 and stopped.stdout == "" and stopped.stderr == "", stopped


def test_a_reports_process_stopped_anywhere_says_nothing_on_its_way_out(tmp_path):
    """The reports' process is stopped wherever it is (a demo's Ctrl-C came inside a database fetch, and the
    library's "Error closing cursor" and its traceback reached the demo's console): it unwinds, so Chromium
    and the database close, in silence; the scheduler that stopped it logs the stop."""
    import subprocess
    import sys

    stopped = subprocess.run([sys.executable, "-c", CUT_OFF_CHILD], capture_output=True, text=True, timeout=60)
    assert stopped.returncode == 1 and stopped.stdout == "" and stopped.stderr == "", stopped
