"""The process's Prometheus figures (prometheus-client), defined once and observed where they
happen; `/metrics` (bigscreen.api.metrics) serves them with a few read at scrape time.

Several uvicorn workers: `bigscreen serve` sets PROMETHEUS_MULTIPROC_DIR (a fresh `metrics/`
directory in the data dir) before its workers start, so every worker writes its figures to a
file there and a scrape, whichever worker answers it, sums counters and histograms of all of
them and gives gauges per process (`pid` label) or summed (`livesum`) as each says below. A
process started without that variable (tests, one worker, `bigscreen scheduler`) keeps its
figures in memory and a scrape of it sees its own only.

Each observation is one in-memory (or mmap) update under a lock: cheap enough for the ingest path.
"""

from __future__ import annotations

import os

from prometheus_client import Counter, Gauge, Histogram

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
multiprocess = bool(os.environ.get(MULTIPROC_ENV))

_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)  # 0.2: issue 14's target

ingest_events = Counter("bigscreen_ingest_events_total", "Events committed by the ingest writer (new or repeated).")
ingest_requests = Counter("bigscreen_ingest_requests_total", "Ingest requests committed by the ingest writer.")
ingest_group_seconds = Histogram("bigscreen_ingest_group_seconds", "Time to store one group commit of ingest requests in SQL.",
                                 buckets=_FAST)
ingest_queue = Gauge("bigscreen_ingest_queue_depth", "Ingest requests left waiting for the writer when it took its "
                     "latest group (summed over workers).", multiprocess_mode="livesum")
frame_build_seconds = Histogram("bigscreen_frame_build_seconds", "Time to build and store wall frames (the scopes shown, or every scope once a second).",
                                buckets=_FAST)
viewers = Gauge("bigscreen_wall_viewers", "Walls and viewers connected to the push channel, by scope (summed over workers).",
                ["scope"], multiprocess_mode="livesum")
push_lag_seconds = Histogram("bigscreen_push_lag_seconds", "From a frame's build to its hand-over to the worker's viewers.",
                             buckets=_FAST)
push_skipped = Counter("bigscreen_push_skipped_total", "Frames not sent to a pushed viewer whose connection had not sent "
                       "the one before yet (it gets the next one whole).")
loop_lag_seconds = Histogram("bigscreen_event_loop_lag_seconds", "How late a web worker's event loop ran a timer "
                             "(bigscreen.process.loop_lag): every request, push and websocket ping waits that long.",
                             buckets=_FAST)
leader_changes = Counter("bigscreen_leader_changes_total", "Times a process took or lost the scheduler's lock.", ["change"])
reconcile_repairs = Counter("bigscreen_reconcile_repairs_total", "Live counters the reconcile job found wrong and repaired.")


def ingest_group(requests: int, events: int, seconds: float, waiting: int) -> None:
    """One committed group of the ingest writer: the one call on the ingest path."""
    ingest_requests.inc(requests)
    ingest_events.inc(events)
    ingest_group_seconds.observe(seconds)
    ingest_queue.set(waiting)


def process_ended() -> None:
    """A worker stops: its live gauges leave the sums (its counters and histograms stay counted)."""
    if multiprocess:
        from prometheus_client import multiprocess as mp

        mp.mark_process_dead(os.getpid(), os.environ[MULTIPROC_ENV])
