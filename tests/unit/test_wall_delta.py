"""Deltas between frames (bigscreen.wall.delta): applied to the older value, they give the newer one exactly."""

from __future__ import annotations

import random

import orjson

from bigscreen.wall.delta import apply, diff


def _through_json(old, new):
    """Applies the delta as a wall does: to the frame it holds, from the delta's JSON."""
    ops = orjson.loads(orjson.dumps(diff(old, new)))
    return apply(orjson.loads(orjson.dumps(old)), ops), ops


def _text(value) -> bytes:
    """JSON's text of a value, keys sorted (a JSON object has no order; a number's type shows: 1, 1.0, true)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _feed(ids):
    return [{"id": i, "text": f"事件 {i}", "status": "reported", "lat": None} for i in ids]


def test_nulls_deletions_and_types_are_carried():
    old = {"kpi": {"ontime_rate": 0.5, "open": 1}, "gone": 1, "n": 1, "flag": True}
    new = {"kpi": {"ontime_rate": None, "open": 1}, "added": {"x": [1]}, "n": 1.0, "flag": 1}
    got, ops = _through_json(old, new)
    assert _text(got) == _text(new)
    assert [["kpi", "ontime_rate"], None] in ops and [["gone"]] in ops, "a null is set, not taken for a deletion"


def test_a_ticker_shift_sends_the_new_item_only():
    old = {"feed": _feed(range(20, 0, -1))}
    new = {"feed": _feed(range(22, 2, -1))}
    new["feed"][5]["status"] = "closed"  # and one entry further down changed
    got, ops = _through_json(old, new)
    assert got == new
    assert ops == [[["feed"], 18, 2, []], [["feed", 3, "status"], "closed"], [["feed"], 0, 0, _feed([22, 21])]]


def test_items_that_are_other_items_are_sent_whole_not_field_by_field():
    def ranked(codes, open_c=0):
        return [{"code": c, "rank": i + 1, "open": open_c if c == "c" else 0} for i, c in enumerate(codes)]

    old = {"feed": _feed(range(20, 0, -1)), "areas": ranked("abcde")}
    new = {"feed": _feed(range(60, 40, -1)), "areas": ranked("baced", open_c=3)}
    got, ops = _through_json(old, new)
    assert got == new
    # twenty events in a tenth of a second: the feed holds none it held, and goes as one splice of its new entries
    assert [["feed"], 0, 20, new["feed"]] in ops
    # streets that changed places: each place gets its new street whole; the one that kept its place, its change alone
    assert sorted(op for op in ops if op[0][0] == "areas") == sorted(
        [[["areas", i], new["areas"][i]] for i in (0, 1, 3, 4)] + [[["areas", 2, "open"], 3]])
    assert len(ops) == 6, ops


def test_a_sparse_map_value_appearing_in_the_middle_is_a_splice():
    old = {"map": {"open": [3, 1] * 300}}
    new = {"map": {"open": [3, 1] * 150 + [1, 2, 1, 1] + [3, 1] * 149}}
    got, ops = _through_json(old, new)
    assert got == new and len(orjson.dumps(ops)) < 60, ops


def test_random_changes_to_random_frames():
    rng = random.Random(14)

    def value(depth):
        kind = rng.randrange(7 if depth < 3 else 4)
        if kind == 0:
            return rng.choice([None, True, False, 0, 1, 2.5, "a", "路"])
        if kind in (1, 2, 3):
            return rng.randrange(5)
        if kind in (4, 5):
            return [value(depth + 1) for _ in range(rng.randrange(6))]
        return {k: value(depth + 1) for k in rng.sample("abcdef", rng.randrange(4))}

    def keyed(n):
        return [{"id": rng.randrange(30), "v": value(2)} for _ in range(n)]

    def mutate(x, depth=0):
        if rng.random() < 0.15:
            return value(depth)
        if isinstance(x, dict):
            out = {k: mutate(v, depth + 1) if rng.random() < 0.5 else v for k, v in x.items() if rng.random() > 0.1}
            if rng.random() < 0.2:
                out[rng.choice("abcdefg")] = value(depth + 1)
            return out
        if isinstance(x, list):
            out = [mutate(v, depth + 1) if rng.random() < 0.3 else v for v in x]
            for _ in range(rng.randrange(3)):
                at = rng.randrange(len(out) + 1)
                if rng.random() < 0.5 and out:
                    del out[min(at, len(out) - 1)]
                else:
                    out.insert(at, {"id": rng.randrange(30), "v": value(2)} if rng.random() < 0.5 else value(depth + 1))
            return out
        return x

    for _ in range(500):
        old = {"a": value(1), "feed": keyed(rng.randrange(8)), "b": {"c": value(1), "d": [value(2) for _ in range(5)]}}
        new = mutate(old)
        if not isinstance(new, dict):
            continue
        if rng.random() < 0.5:  # a ticker: some in front, some gone at the end
            new["feed"] = keyed(rng.randrange(3)) + old["feed"][: rng.randrange(len(old["feed"]) + 1)]
        got, _ops = _through_json(old, new)
        assert _text(got) == _text(new), (old, new)
