"""The cases' steps through the API are stored in groups (bigscreen.cases.transition_writer): many
requests, one transaction, one Redis call; every request answered as if it had been alone."""

from __future__ import annotations

import threading

import pytest
from fault_support import figures_differ
from sqlalchemy import func, select

from bigscreen.cases.transition import TransitionEvent
from bigscreen.cases.transition_writer import TransitionWriter
from bigscreen.db.models import EventTransition
from bigscreen.domain.schemas import Problem, TransitionIn
from bigscreen.simulation.life import ROLE_OF


def _report(client, runtime, n: int) -> list[int]:
    grids = runtime.areas.at_level(runtime.areas.grid_level)
    item = runtime.config.categories[0].items[0].code
    r = client.post("/api/v1/events", json=[{"source_id": f"tw-{i}", "channel": "grid_app", "item": item,
                                             "grid": grids[i * 13 % len(grids)].code, "description": "路灯不亮"} for i in range(n)])
    assert r.status_code == 200, r.text
    return [e["id"] for e in r.json()["events"]]


def _step(runtime, event_id: int, action: str, **fields) -> TransitionEvent:
    body = TransitionIn(action=action, role=ROLE_OF[action], **fields)
    return TransitionEvent(runtime, event_id, body, actor="网格员", role=body.role)


class _Recorded(TransitionWriter):
    """The writer, with the cases of each group it stored noted, and its groups held until `go` is
    set (`entered` once it holds one): the requests sent meanwhile queue up behind it."""

    def __init__(self, rt) -> None:
        super().__init__(rt)
        self.entered, self.go, self.groups = threading.Event(), threading.Event(), []

    def _store(self, group):
        self.entered.set()
        self.go.wait(10)
        self.groups.append([j.item.event_id for j in group])
        return super()._store(group)

    def queue_behind(self, first, rest) -> list:
        """Submits `first`, waits until its group is held, submits `rest`, lets the writer go on."""
        futures = [self.submit(first)]
        assert self.entered.wait(10)
        futures += [self.submit(step) for step in rest]
        self.go.set()
        return futures


def test_queued_steps_are_stored_in_groups_each_answered_as_if_alone(client, runtime):
    cases = _report(client, runtime, 12)
    writer = _Recorded(runtime)
    try:
        steps = [_step(runtime, c, "accept") for c in cases[1:]]
        steps += [_step(runtime, c, "start") for c in cases[1:]]  # a case's second step: after its first
        steps += [_step(runtime, cases[1], "close", resolved_level="grid"),  # refused: in progress, not verified
                  _step(runtime, 10**9, "accept")]  # no such case
        futures = writer.queue_behind(_step(runtime, cases[0], "accept"), steps)
        results = []
        for f in futures:
            try:
                results.append(f.result(30))
            except Problem as exc:
                results.append(exc)
    finally:
        writer.close()

    assert [r.status for r in results[:23]] == ["accepted"] * 12 + ["in_progress"] * 11
    assert isinstance(results[23], Problem) and results[23].status == 409
    assert isinstance(results[24], Problem) and results[24].status == 404
    assert writer.groups == [[cases[0]], cases[1:], cases[1:], [cases[1], 10**9]], "grouped, a case's next step in the next group"
    assert all(len(g) == len(set(g)) for g in writer.groups), "at most one step of a case in a group"
    with runtime.sessions() as s:
        logged = s.scalar(select(func.count()).select_from(EventTransition).where(EventTransition.action.in_(("accept", "start", "close"))))
    assert logged == 23, "the refused steps wrote nothing"
    assert figures_differ(runtime) == [], "the counters of every step moved, in Redis as in SQL"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_group_that_fails_is_stored_step_by_step_and_only_the_faulty_request_fails(client, runtime):
    cases = _report(client, runtime, 4)

    class Faulty(_Recorded):
        def _store(self, group):
            if any(j.item.event_id == cases[2] for j in group):
                self.groups.append([j.item.event_id for j in group])
                raise RuntimeError("the database failed this one")
            return super()._store(group)

    writer = Faulty(runtime)
    try:
        futures = writer.queue_behind(_step(runtime, cases[3], "accept"), [_step(runtime, c, "accept") for c in cases[:3]])
        outcomes = []
        for f in futures:
            try:
                outcomes.append(f.result(30).status)
            except Exception as exc:  # noqa: BLE001
                outcomes.append(str(exc))
    finally:
        writer.close()
    assert outcomes == ["accepted", "accepted", "accepted", "the database failed this one"]
    assert writer.groups == [[cases[3]], cases[:3], [cases[0]], [cases[1]], [cases[2]]], "one group, then one by one"
    assert figures_differ(runtime) == []
