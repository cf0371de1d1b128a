"""`bigscreen demo`: the whole product in one process, stopped cleanly by Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging
import secrets
import signal
import threading
import time

import click
import uvicorn

from bigscreen import jobs
from bigscreen.app import create_app
from bigscreen.auth.users import AccountError, add_user, reset_password
from bigscreen.configuration import Config
from bigscreen.runtime import Runtime
from bigscreen.settings import Settings
from bigscreen.simulation.credentials import demo_credentials
from bigscreen.setup import (
    build_city,
    city_exists,
    ensure_redis,
    prepare_database,
    release_redis,
    sync_live,
)

log = logging.getLogger(__name__)
DEMO_SOURCE = "demo-simulator"
DEMO_WALL = "演示大屏 demo wall"
DEMO_DUTY = "demo-duty"  # the duty officer's account; the simulated duty desk acts as it
WRITERS_STOP_S = 10.0
DAY_SHARE = 0.6  # the simulator's day-night rhythm sends about this share of rate × 24 h a day


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
            reset_password(rt, username, password)
        out.append((role, username, password, note))
    return out


def run_demo(settings: Settings, config: Config, *, host: str, port: int, rate: float, backfill_days: int) -> int:
    settings, owned_redis = ensure_redis(settings)
    rt = Runtime.open(settings, config)
    background = None
    stop = threading.Event()
    writers: list[threading.Thread] = []
    try:
        prepare_database(rt)
        fresh_city = not city_exists(rt)
        if fresh_city:
            click.echo("building the demo city (once) ...")
            build_city(rt)
        sync_live(rt)  # Redis may be new or behind the database: make it agree first
        api_key, wall_token = demo_credentials(rt, DEMO_SOURCE, DEMO_WALL)
        accounts = demo_accounts(rt)
        app = create_app(rt)
        server = uvicorn.Server(uvicorn.Config(app.server, host=host, port=port, log_level="warning", lifespan="on",
                                                 ws_per_message_deflate=rt.settings.ws_deflate))
        background = jobs.start_background(rt)
        url = f"http://{host}:{port}"
        logins = "".join(f"\n    {role:<7} {name:<10} password {password}  {note}" for role, name, password, note in accounts)
        banner = (f"\n  bigscreen demo, the wall: {url}/wall?token={wall_token}\n"
                  f"  sign in at {url}/login (duty desk {url}/duty, tablets {url}/) with the demo accounts "
                  f"(new passwords at every start):{logins}\n"
                  f"  API key of source '{DEMO_SOURCE}': {api_key}\n"
                  f"  data dir: {settings.data_dir}\n  Ctrl-C stops everything.\n")
        threading.Thread(target=_simulate, args=(server, url, api_key, rate, backfill_days if fresh_city else 0, stop, banner,
                                                 background), name="simulator", daemon=True).start()
        for name, target in (("field-work", _field_work), ("duty-desk", _duty_desk)):  # they write SQL and Redis
            writers.append(threading.Thread(target=target, args=(rt, stop), name=name, daemon=True))
            writers[-1].start()
        # uvicorn re-raises the stopping signal after its graceful shutdown; with these
        # handlers in place that lands here as a no-op, so the finally block below runs.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: None)
        server.run()  # returns on SIGINT/SIGTERM
        return 0
    finally:
        stop.set()
        for thread in writers:
            thread.join(WRITERS_STOP_S)  # before Redis stops: its AOF then holds every write they made
        if background is not None:
            background.shutdown()
        rt.close()
        release_redis(owned_redis, settings)
        click.echo("demo stopped")


def _simulate(server: uvicorn.Server, url: str, api_key: str, rate: float, backfill_days: int,
              stop: threading.Event, banner: str, background: jobs.Background) -> None:
    from bigscreen.simulate import Simulator

    while not server.started and not stop.is_set():
        time.sleep(0.05)
    click.echo(banner)  # only now does the URL answer
    sim = Simulator(url, api_key, rate=rate)
    try:
        if backfill_days and not stop.is_set():
            # history at the live rate, so the 24-hour trend does not jump when the live part begins; the
            # clock's jobs wait meanwhile, or a case would count as late before its past steps are sent
            per_day = max(100, round(rate * 86400 * DAY_SHARE))
            log.info("simulator: sending the last %d day(s) of history (about %d events; a few minutes), the wall "
                     "shows it arriving", backfill_days, backfill_days * per_day)
            with background.paused(*jobs.CLOCK_JOBS):
                sim.backfill(days=backfill_days, per_day=per_day, progress=False)
        sim.run(stop)
    except Exception:  # the demo's server keeps running even if the simulator fails
        log.exception("simulator stopped")


def _duty_desk(rt: Runtime, stop: threading.Event) -> None:
    """A duty officer who answers the alerts nobody at the desk has taken (bigscreen.simulation.duty_desk)."""
    from bigscreen.simulation.duty_desk import DutyDeskSimulator

    DutyDeskSimulator(rt, DEMO_DUTY).run(stop)


def _field_work(rt: Runtime, stop: threading.Event) -> None:
    """The grid workers' day (一日两巡五访), through the same command a grid app's uploads take: today so far
    first (a demo started at 15:00 shows the morning's check-ins and patrols), then as it falls due."""
    from bigscreen.simulation.field_work import FieldWorkSimulator

    FieldWorkSimulator(rt, DEMO_SOURCE).run(stop)  # logs and retries its own errors, like the duty desk
