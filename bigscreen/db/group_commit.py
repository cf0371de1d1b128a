"""Group commit: one writer thread per process stores whatever requests of a kind are waiting,
together, in one transaction, and answers each of them.

Under load a request then costs a share of one transaction (and of one Redis call after it)
instead of a transaction of its own: on PostgreSQL a handful of round trips, on SQLite a writer
that takes turns with the other processes' (`WriteTurn`: while the writer waits for its turn,
more requests join its group). Each request is marked running as it is taken, so that it can no
longer be cancelled and will get its answer; one whose waiter gave up before (a cancelled request)
is left out, and stored by its retry.

A kind of writer says what a group may hold (`group_max` of its `_size`, `_joins`), stores a group (`_store`, inside
the turn and the transaction it opens) and answers it after the commit (`_publish`, which moves
Redis and sets each request's future). A group that fails to store is answered by `_failed`:
each request gets the error (nothing was committed), unless the writer knows better.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine

from bigscreen.db.session import WriteTurn

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Job(Generic[T]):
    item: T
    future: Future


class GroupCommit(Generic[T]):
    thread_name = "group-commit"
    group_max = 1000  # a group is full at this many (`_size`: requests, or what they hold)

    def __init__(self, engine: Engine) -> None:
        self._jobs: queue.SimpleQueue[Job[T] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._turn = WriteTurn.of(engine)  # SQLite: the processes' writers take turns (bigscreen.db.session)

    def submit(self, item: T) -> Future:
        """Queues `item` for the next group; the future holds its answer (or the group's error)."""
        future: Future = Future()
        self._ensure_thread()
        self._jobs.put(Job(item, future))
        return future

    def close(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(10)
            self._thread = None
        self._turn.close()

    def waiting(self) -> int:
        return self._jobs.qsize()

    # -- what a kind of writer says --------------------------------------------------------
    def _joins(self, group: list[Job[T]], item: T) -> bool:
        """Whether `item` may join `group` (never asked of a group's first); if not, it opens the next group."""
        return True

    def _size(self, item: T) -> int:
        return 1

    def _store(self, group: list[Job[T]]) -> Any:
        """Stores the group in one transaction (inside the turn); what it returns goes to `_publish`."""
        raise NotImplementedError

    def _publish(self, group: list[Job[T]], stored: Any) -> None:
        """After the commit, outside the turn: moves Redis and answers every request of the group."""
        raise NotImplementedError

    def _failed(self, group: list[Job[T]], exc: Exception) -> None:
        """The group was not stored (nothing of it committed): every waiting request learns of it."""
        log.error("%s: a group of %d request(s) failed", self.thread_name, len(group), exc_info=exc)
        for job in group:
            job.future.set_exception(exc)

    # -- the thread --------------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
                    self._thread.start()

    def _loop(self) -> None:
        carried: Job[T] | None = None  # a request that could not join the last group opens the next
        while True:
            job = carried if carried is not None else self._jobs.get()
            if job is None:
                return
            with self._turn.held():  # while it waits for its turn, more requests join the group
                group, carried = self._gather(job)
                if not group:
                    continue
                try:
                    stored = self._store(group)
                except Exception as exc:  # noqa: BLE001 -- every waiting request is answered
                    self._failed(group, exc)
                    continue
            self._publish(group, stored)

    def _gather(self, job: Job[T]) -> tuple[list[Job[T]], Job[T] | None]:
        """`job` and the requests waiting behind it, while they may join and up to `group_max`; the
        one that may not join, if any."""
        group: list[Job[T]] = []
        size = 0
        while job is not None:
            if group and not self._joins(group, job.item):
                return group, job
            if job.future.set_running_or_notify_cancel():
                group.append(job)
                size += self._size(job.item)
            if size >= self.group_max:
                break
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._jobs.put(None)  # closing: after this group
        return group, None
