"""The PostgreSQL pool (bigscreen.db.session.make_engine): a connection handed back a moment ago is handed
out again without a round trip; one that waited in the pool longer is tried first, and replaced if its
server process is gone."""

from __future__ import annotations

import time

from sqlalchemy import text

from bigscreen.db import session


def test_a_connection_in_use_a_moment_ago_is_not_pinged_and_one_idle_longer_is_replaced_if_dead(postgres_server, monkeypatch):
    engine, admin = session.make_engine(postgres_server, pool_size=1), session.make_engine(postgres_server, pool_size=1)
    pings = []
    ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(conn) or ping(conn))
    pid = text("SELECT pg_backend_pid()")
    try:
        with engine.connect() as conn:
            first = conn.scalar(pid)
        with engine.connect() as conn:
            again = conn.scalar(pid)
        assert again == first and pings == [], "handed back a moment ago: the same connection, without a ping"

        with admin.connect() as conn:  # its server process goes (a restart, an administrator's kill)
            assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        time.sleep(session.PING_IDLE_S + 0.2)
        with engine.connect() as conn:
            replaced = conn.scalar(pid)
        assert len(pings) == 1 and replaced != first, "idle past PING_IDLE_S: pinged, found gone, replaced"
    finally:
        engine.dispose()
        admin.dispose()
