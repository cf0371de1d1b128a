"""How many threads a web worker lends to requests' blocking work (database and Redis calls through
`run_in_threadpool`: alerts, sessions, pages): no more than its database pool holds,
less the connections its own threads use (the ingest and transition writers, the live publisher, the jobs when it
leads). anyio lends 40 by default; with a pool of fewer, the requests beyond it opened and closed
a connection each (on PostgreSQL a server process each), and forty threads taking turns at the GIL
left the event loop, which answers every request and writes every pushed frame, waiting its turn."""

from __future__ import annotations

import anyio.to_thread

OWN_CONNECTIONS = 5  # the ingest and transition writers, the live publisher, the jobs' threads


def lend_threads(pool_size: int) -> int:
    """Sets the running loop's default thread limit (call it in the worker's lifespan); returns it."""
    limit = max(2, pool_size - OWN_CONNECTIONS)
    anyio.to_thread.current_default_thread_limiter().total_tokens = limit
    return limit
