"""What changed between two frames of a scope, as a list of edits a wall applies to the frame it holds.

A pushed wall receives, per built frame, `{"seq": S, "base": B, "ops": [...]}`: apply the ops to
the frame numbered B and you hold frame S exactly. Made once per scope and frame by the publisher
(not per viewer) and sent to every viewer that holds B; any other viewer gets the whole frame.

Not a JSON merge patch (RFC 7386): a frame carries nulls (a rate with nothing to rate yet), which
a merge patch cannot set, and its lists (the feed, the alerts, the map's sparse values) change by
an item in front or in the middle, which a merge patch can only send whole. So, three edits, each
a JSON array whose first element is a path (keys and list indices) from the frame's root:

    [path, value]                     set the key or index at `path` to `value`
    [path]                            delete the key at `path`
    [path, start, count, items]       in the list at `path`, replace `count` items from `start` with `items`

Edits apply in order; those on one list run from its end to its start, so each index is still
the one of the frame the delta was made from when its edit applies. assets/wall.js applies them
the same way as `apply` here (the tests hold both to the frames).
"""

from __future__ import annotations

from typing import Any

SHIFT_MAX = 20  # items a list may gain in front between two frames and still be sent as a shift (the feed: 20)


def diff(old: Any, new: Any) -> list[list]:
    """The edits that turn `old` into `new` (two frames: JSON values with a dict at the root)."""
    ops: list[list] = []
    _dict(old, new, [], ops)
    return ops


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b  # True and 1, 1 and 1.0 are equal in Python, not in JSON's text


def _value(a: Any, b: Any, path: list, ops: list) -> None:
    if _same(a, b):
        return
    if type(a) is dict and type(b) is dict:
        _dict(a, b, path, ops)
    elif type(a) is list and type(b) is list:
        _list(a, b, path, ops)
    else:
        ops.append([path, b])


def _dict(a: dict, b: dict, path: list, ops: list) -> None:
    for key, value in b.items():
        if key not in a:
            ops.append([[*path, key], value])
        else:
            _value(a[key], value, [*path, key], ops)
    ops.extend([[*path, key]] for key in a if key not in b)


def _key(item: Any) -> Any:
    """What names a list's item across frames: a feed entry or an alert its id, a ranked area its code."""
    return item.get("id", item.get("code")) if type(item) is dict else None


def _list(a: list, b: list, path: list, ops: list) -> None:
    """Common head and tail kept; what lies between is a shift (items in front, the last ones gone:
    a ticker), paired item by item, or replaced."""
    head, most = 0, min(len(a), len(b))
    while head < most and _same(a[head], b[head]):
        head += 1
    tail = 0
    while tail < most - head and _same(a[len(a) - 1 - tail], b[len(b) - 1 - tail]):
        tail += 1
    old, new = a[head:len(a) - tail], b[head:len(b) - tail]
    shift = _shift(old, new)
    if shift is None:
        if (len(old) == len(new) and all(type(x) is type(y) and type(x) in (dict, list) for x, y in zip(old, new))
                and any(_key(x) == _key(y) for x, y in zip(old, new))):
            shift = 0
        else:  # unlike items, or none the same item (a feed whose entries all came since: 20 events in 0.1 s)
            ops.append([path, head, len(old), new])
            return
    kept = len(new) - shift  # old[:kept] become new[shift:]
    if len(old) > kept:
        ops.append([path, head + kept, len(old) - kept, []])
    for i in range(kept - 1, -1, -1):
        was, now = old[i], new[i + shift]
        if _key(was) == _key(now):
            _value(was, now, [*path, head + i], ops)
        else:  # another item in its place (a ranking reordered): set whole, not field by field
            ops.append([[*path, head + i], now])
    if shift:
        ops.append([path, head, 0, new[:shift]])


def _shift(old: list, new: list) -> int | None:
    """k when the items of `new` after its first k are those of `old` (by `_key`) from its start:
    k items came in front and the last ones of `old` left. None when no k fits, or the items have no key."""
    if not old or not new or _key(old[0]) is None:
        return None
    keys_old, keys_new = [_key(x) for x in old], [_key(x) for x in new]
    for k in range(min(len(new), SHIFT_MAX + 1)):
        kept = len(new) - k
        if kept <= len(old) and keys_new[k:] == keys_old[:kept]:
            return k
    return None


def apply(frame: dict, ops: list[list]) -> dict:
    """`frame` with `ops` applied, in place (as a wall does); the ops' values become part of it,
    so give ops as received (parsed from their JSON), not ones that share objects with a frame."""
    for op in ops:
        path = op[0]
        parent = frame
        for step in path if len(op) == 4 else path[:-1]:
            parent = parent[step]
        if len(op) == 4:
            parent[op[1]:op[1] + op[2]] = op[3]
        elif len(op) == 2:
            parent[path[-1]] = op[1]
        else:
            del parent[path[-1]]
    return frame
