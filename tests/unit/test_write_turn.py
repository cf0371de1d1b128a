"""Processes writing one SQLite file take turns at it: a writer waits for the other's turn to end and
then goes at once (no busy-handler sleeps); PostgreSQL and in-memory SQLite need no turns."""

from __future__ import annotations

import multiprocessing
import time

from sqlalchemy import create_engine

from bigscreen.db.session import WriteTurn, make_engine


def _hold(path: str, seconds: float, started) -> None:
    turn = WriteTurn.of(make_engine(f"sqlite:///{path}"))
    with turn.held():
        started.set()
        time.sleep(seconds)


def test_a_second_process_waits_for_the_turn_and_then_goes_at_once(tmp_path):
    db = str(tmp_path / "bigscreen.db")
    ctx = multiprocessing.get_context("spawn")
    started = ctx.Event()
    other = ctx.Process(target=_hold, args=(db, 0.5, started))
    other.start()
    try:
        assert started.wait(30)
        turn = WriteTurn.of(make_engine(f"sqlite:///{db}"))
        t0 = time.monotonic()
        with turn.held():
            waited = time.monotonic() - t0
        other.join(10)
        assert waited > 0.2, "the turn was taken while the other process held it"
        assert other.exitcode == 0
        turn.close()
    finally:
        other.join(10)


def test_turns_only_where_writers_exclude_each_other(tmp_path):
    assert not WriteTurn.of(create_engine("sqlite://")).locks
    assert not WriteTurn.of(create_engine("postgresql+psycopg://u@localhost/db")).locks
    turn = WriteTurn.of(make_engine(f"sqlite:///{tmp_path / 'x.db'}"))
    assert turn.locks and (tmp_path / "x.db.write-turn").exists()
    turn.close()
