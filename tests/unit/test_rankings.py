"""The wall's rankings show both ends: the best three and the last two areas that have a rate."""

from __future__ import annotations

from bigscreen.wall.frame import _ranked


def _row(code: str, ontime: int, late: int, reported: int = 10) -> tuple[str, str, dict[str, int]]:
    closed = ontime + late
    return code, code, {"st:closed": closed, "st:dispatched": reported - closed, "ontime": ontime}


def test_best_three_and_last_two_with_their_ranks():
    rows = [_row(f"s{i}", ontime=10 - i, late=i) for i in range(8)] + [_row("idle", 0, 0, reported=0)]
    shown = _ranked(rows)
    assert [(r["code"], r["rank"]) for r in shown] == [("s0", 1), ("s1", 2), ("s2", 3), ("s6", 7), ("s7", 8)]
    assert shown[0]["ontime_rate"] == 1.0 and shown[-1]["ontime_rate"] == 0.3, "an area with no rate is not a laggard"


def test_few_areas_are_all_shown_in_order():
    rows = [_row("b", 5, 5), _row("a", 9, 1), _row("idle", 0, 0, reported=0)]
    assert [(r["code"], r["rank"]) for r in _ranked(rows)] == [("a", 1), ("b", 2), ("idle", 3)]
