"""Group commit of case steps (bigscreen.db.group_commit): one writer thread per process stores the
steps that requests are waiting to take, together. The cases and their last steps are read once
for all, each case moves on its version, the log rows go in one statement (`write_transitions`),
and the counters of every step move in one Redis call after the commit.

Under load a step then costs a share of a handful of round trips to the database instead of a
transaction of its own in a thread of its own (issue 14's soak: ~7 PostgreSQL round trips per
step, most of the servers' time).

What a request is answered does not change:
- a group holds at most one step per case: a second step of a case opens the next group, so it
  sees the first one stored, as it would one after the other;
- a step refused (404, 409, 422) is answered with its refusal and writes nothing; the others go on;
- a group whose transaction fails (two processes' groups in a deadlock, say) is stored again one
  step at a time, so an error is answered only to the request it belongs to;
- a request is answered once its step is committed and its counters are in Redis (a Redis failure
  leaves the answer standing: the figures are repaired from SQL, as for a single step).
"""

from __future__ import annotations

import asyncio
import logging

from redis.exceptions import RedisError

from bigscreen.cases.facts import EventRecord
from bigscreen.cases.transition import TransitionEvent, write_transitions
from bigscreen.db.group_commit import GroupCommit, Job
from bigscreen.domain.schemas import Problem
from bigscreen.live.writer import event_tag

log = logging.getLogger(__name__)


class TransitionWriter(GroupCommit[TransitionEvent]):
    thread_name = "transition-writer"
    group_max = 100

    def __init__(self, rt) -> None:
        super().__init__(rt.engine)
        self.rt = rt

    async def take(self, command: TransitionEvent) -> EventRecord:
        """Validates the step in the request's own task (Problem), then waits for its group's commit."""
        command.validate()
        return await asyncio.wrap_future(self.submit(command))

    def _joins(self, group: list[Job[TransitionEvent]], command: TransitionEvent) -> bool:
        return all(j.item.event_id != command.event_id for j in group)

    def _store(self, group: list[Job[TransitionEvent]]) -> list[EventRecord | Problem]:
        group.sort(key=lambda j: j.item.event_id)  # every writer locks cases in one order: no deadlock among them
        with self.rt.engine.begin() as conn:
            return write_transitions(conn, [j.item for j in group])

    def _failed(self, group: list[Job[TransitionEvent]], exc: Exception) -> None:
        if len(group) == 1:
            super()._failed(group, exc)
            return
        log.warning("a group of %d case steps failed (%s); storing them one by one", len(group), exc)
        for job in group:
            try:
                stored = self._store([job])
            except Exception as one:  # noqa: BLE001 -- this request's own error
                super()._failed([job], one)
                continue
            self._publish([job], stored)

    def _publish(self, group: list[Job[TransitionEvent]], stored: list[EventRecord | Problem]) -> None:
        rt = self.rt
        moved = [j.item for j, done in zip(group, stored) if not isinstance(done, Problem) and j.item.moved is not None]
        if moved:
            after = moved[0].moved[1]
            change = rt.live.change_set(event_tag(after.id, after.version))  # the group's steps: one commit, one tag
            now = rt.clock()
            for command in moved:
                command.count_into(change, now)
            try:
                rt.live.apply(change)
            except RedisError as exc:  # stored in SQL: the answers stand; the watch repairs Redis once it is back
                log.warning("%d case step(s) stored, but their live counters were not moved: %s", len(moved), exc)
            except Exception:  # a fault of ours: the answers stand all the same; reconcile repairs Redis
                log.exception("%d case step(s) stored, but their live counters were not moved", len(moved))
        for job, done in zip(group, stored):
            if isinstance(done, Problem):
                job.future.set_exception(done)
            else:
                job.future.set_result(done)
