"""`bigscreen demo`: the whole product in one process, stopped cleanly by Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging
import secrets
import signal
import threading
import time

import click
import uvicorn

from bigscreen.admin.accounts import ResetPassword
from bigscreen.admin.base import system_caller
from bigscreen.app import create_app
from bigscreen.asgi import worker_lifespan
from bigscreen.auth.users import AccountError, add_user
from bigscreen.configuration.loading import Config
from bigscreen.jobs import schedule
from bigscreen.jobs.watch import sync_live
from bigscreen.process.datadir import build_city, city_exists, ensure_redis, prepare_database, release_redis
from bigscreen.process.runtime import Runtime
from bigscreen.process.settings import Settings
from bigscreen.simulation.credentials import demo_credentials
from bigscreen.simulation.history import HistoryPlan, plan_history, send_earlier, send_history

log = logging.getLogger(__name__)
STOP_CLIENTS_S = 15.0  # the demo's own clients (simulator, duty desk, field work) get this long to finish
DEMO_SOURCE = "demo-simulator"
DEMO_WALL = "演示大屏 demo wall"
DEMO_DUTY = "demo-duty"  # the duty officer's account; the simulated duty desk acts as it
HISTORY_HELD_JOBS = (*schedule.CLOCK_JOBS, "reconcile", "produce_reports")  # while the earlier history goes in
DAY_SHARE = 0.6  # the simulator's day-night rhythm sends about this share of rate × 24 h a day
HISTORY_SECONDS = "about 11 s a day on 2 cores"  # a day at the default rate, measured: docs/BENCHMARKS.md
EARLIER_SECONDS = "minutes"  # 34 days at the default rate, measured: docs/BENCHMARKS.md


def demo_accounts(rt: Runtime) -> list[tuple[str, str, str, str]]:
    """One account per role, created once and given a fresh random password at every start
    (the demo is the only place with known passwords): (role, username, password, note)."""
    district = rt.areas.at_level(1)[0] if rt.areas.grid_level > 1 else rt.areas.city
    wanted = [("admin", "demo-admin", None, "管理员 admin", "系统管理员"),
              ("duty", DEMO_DUTY, None, "值班员 duty officer", "值班员 李明"),
              ("leader", "demo-leader", district.code, f"{district.name}领导 leader of {district.code}", f"{district.name}领导")]
    out = []
    for role, username, area, note, shown_as in wanted:
        password = secrets.token_urlsafe(9)
        try:
            add_user(rt, username, password, role, area, display_name=shown_as)
        except AccountError:  # it exists from an earlier start
            ResetPassword(rt, system_caller(), username, password, by="bigscreen demo").run()
        out.append((role, username, password, note))
    return out


def run_demo(settings: Settings, config: Config, *, host: str, port: int, rate: float, backfill_days: int) -> int:
    settings, owned_redis = ensure_redis(settings)
    rt = Runtime.open(settings, config)
    background = None
    stop = threading.Event()
    clients: list[threading.Thread] = []
    try:
        prepare_database(rt)
        fresh_city = not city_exists(rt)
        if fresh_city:
            click.echo("building the demo city (once) ...")
            build_city(rt)
        sync_live(rt)  # Redis may be new or behind the database: make it agree first
        history = plan_history(rt, days=backfill_days, per_day=max(100, round(rate * 86400 * DAY_SHARE)),
                               new_city=fresh_city)
        api_key, wall_token = demo_credentials(rt, DEMO_SOURCE, DEMO_WALL)
        accounts = demo_accounts(rt)
        app = create_app(rt)
        app.server.router.lifespan_context = worker_lifespan(app.server.router.lifespan_context, rt)
        server = _DemoServer(uvicorn.Config(app.server, host=host, port=port, log_level="warning", lifespan="on",
                                            ws_per_message_deflate=rt.settings.ws_deflate),
                             before_exit=lambda: _stop_clients(stop, clients))
        background = schedule.start_background(rt)
        url = f"http://{host}:{port}"
        logins = "".join(f"\n    {role:<7} {name:<10} password {password}  {note}" for role, name, password, note in accounts)
        banner = (f"\n  bigscreen demo, the wall: {url}/wall?token={wall_token}\n"
                  f"  sign in at {url}/login (duty desk {url}/duty, tablets {url}/) with the demo accounts "
                  f"(new passwords at every start):{logins}\n"
                  f"  API key of source '{DEMO_SOURCE}': {api_key}\n"
                  f"{_history_line(history)}"
                  f"  data dir: {settings.data_dir}\n  Ctrl-C stops everything.\n")
        # A signal from now on stops the demo's clients, then the server (also one that comes before uvicorn
        # listens for it). uvicorn re-raises the stopping signal after its graceful shutdown; that lands here
        # again, harmlessly, so the finally block below runs.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, server.handle_exit)
        sim = _simulator(rt, rate, history)
        recent_sent = threading.Event()
        clients += [threading.Thread(target=_announce, args=(server, banner, stop), name="banner", daemon=True),
                    threading.Thread(target=_simulate, args=(rt, sim, server, url, api_key, history, stop, background,
                                                             recent_sent), name="simulator", daemon=True),
                    threading.Thread(target=_earlier_history, args=(rt, sim, rate, history, stop, background,
                                                                    recent_sent), name="history", daemon=True),
                    threading.Thread(target=_field_work, args=(rt, stop), name="field-work", daemon=True),
                    threading.Thread(target=_duty_desk, args=(rt, stop), name="duty-desk", daemon=True)]
        for thread in clients:
            thread.start()
        server.run()  # returns on SIGINT/SIGTERM, once the clients above have stopped
        return 0
    finally:
        _stop_clients(stop, clients)  # (again, if the server ended by itself): nothing may use what closes below
        if background is not None:
            background.shutdown()
        rt.close()
        release_redis(owned_redis, settings)
        click.echo("demo stopped")


class _DemoServer(uvicorn.Server):
    """The demo's web server: on Ctrl-C or SIGTERM it first stops the demo's own clients (`before_exit`), still
    serving meanwhile so their last requests are answered, and only then stops serving; so nothing they do
    fails or logs an error on the way out. A second signal stops it at once."""

    def __init__(self, config: uvicorn.Config, before_exit) -> None:
        super().__init__(config)
        self._before_exit = before_exit
        self._stopping = False

    def handle_exit(self, sig, frame) -> None:
        if self._stopping:
            return super().handle_exit(sig, frame)
        self._stopping = True
        threading.Thread(target=self._exit_after_clients, args=(sig, frame), name="stopping", daemon=True).start()

    def _exit_after_clients(self, sig, frame) -> None:
        try:
            self._before_exit()
        finally:
            super().handle_exit(sig, frame)


def _stop_clients(stop: threading.Event, clients: list[threading.Thread]) -> None:
    """Tells the demo's own threads to stop and waits for them (at most STOP_CLIENTS_S altogether)."""
    stop.set()
    deadline = time.monotonic() + STOP_CLIENTS_S
    for thread in clients:
        if thread.is_alive():
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("the demo's %s thread did not stop within %.0f s", thread.name, STOP_CLIENTS_S)


def _history_line(history: HistoryPlan | None) -> str:
    if history is None:
        return ""
    line = ""
    if not history.done:
        line += (f"  history: the last {history.days} day(s), {history.reports:,} reports, sent in process first "
                 f"({HISTORY_SECONDS}); the wall shows it when it is in\n")
    if history.earlier_days and not history.earlier_done:
        line += (f"  history: the {history.earlier_days} days before, {history.earlier_days * history.per_day:,} "
                 f"reports and the grid workers' field work, in the background ({EARLIER_SECONDS}); the month's "
                 f"reports are full when it is in\n")
    return line


def _announce(server: uvicorn.Server, banner: str, stop: threading.Event) -> None:
    """Prints the banner as soon as the URL answers (the history may still be on its way)."""
    while not server.started and not stop.is_set():
        time.sleep(0.05)
    if not stop.is_set():
        click.echo(banner)


def _simulator(rt: Runtime, rate: float, history: HistoryPlan | None):
    from bigscreen.simulation.local import LocalCity
    from bigscreen.simulation.simulator import Simulator

    return Simulator(api=LocalCity(rt, DEMO_SOURCE), rate=rate, seed=history.seed if history else None, workers=1)


def _simulate(rt: Runtime, sim, server: uvicorn.Server, url: str, api_key: str, history: HistoryPlan | None,
              stop: threading.Event, background: schedule.Background, recent_sent: threading.Event) -> None:
    """The history's last day first, in process (bigscreen.simulation.history), then the live city over HTTP, as
    any source."""
    from bigscreen.simulation.api import CityApi

    try:
        if history is not None and not stop.is_set():
            # the clock's jobs wait meanwhile (seconds), or a case would count as late before its past steps are in
            with background.paused(*schedule.CLOCK_JOBS):
                send_history(rt, sim, history, stop)
    except Exception:  # the demo runs on; the next start sends what is missing
        log.exception("the demo's history was not sent in full; the next start sends the rest")
    finally:
        recent_sent.set()
    while not server.started and not stop.is_set():
        time.sleep(0.05)
    if stop.is_set():
        return
    sim.api.close()
    sim.api = CityApi(url, api_key)
    try:
        sim.run(stop)
    except Exception:  # the demo's server keeps running even if the simulator fails
        log.exception("simulator stopped")
    finally:
        sim.close()


def _earlier_history(rt: Runtime, live, rate: float, history: HistoryPlan | None, stop: threading.Event,
                     background: schedule.Background, recent_sent: threading.Event) -> None:
    """The history's earlier weeks, in the background once the last day is in (bigscreen.simulation.history);
    the clock's, the reconcile's and the reports' jobs wait meanwhile."""
    if history is None or history.finished:
        return
    while not recent_sent.wait(0.2) and not stop.is_set():
        pass
    try:
        if not stop.is_set():
            with background.paused(*HISTORY_HELD_JOBS):
                send_earlier(rt, history, stop, live, rate=rate, source=DEMO_SOURCE)
    except Exception:  # the demo runs on; the next start sends what is missing
        log.exception("the demo's earlier history was not sent in full; the next start sends the rest")


def _duty_desk(rt: Runtime, stop: threading.Event) -> None:
    """A duty officer who answers the alerts nobody at the desk has taken (bigscreen.simulation.duty_desk)."""
    from bigscreen.simulation.duty_desk import DutyDeskSimulator

    DutyDeskSimulator(rt, DEMO_DUTY).run(stop)


def _field_work(rt: Runtime, stop: threading.Event) -> None:
    """The grid workers' day (一日两巡五访), through the same command a grid app's uploads take: today so far
    first (a demo started at 15:00 shows the morning's check-ins and patrols), then as it falls due."""
    from bigscreen.simulation.field_work import FieldWorkSimulator

    FieldWorkSimulator(rt, DEMO_SOURCE).run(stop)  # logs and retries its own errors, like the duty desk
