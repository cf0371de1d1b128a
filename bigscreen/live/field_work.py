"""What field work adds to the live counters: one function for the live path and the rebuild.

A grid worker's day (一日两巡五访): a check-in at the start of duty (签到上岗), patrols of the
grid (巡查) and visits to households (走访). Each is counted in the day hash of its local day
(`{p}a:{area}:d:{yyyymmdd}`, the hash the event cohort of that day lives in) of its grid and of
every area above it, up to the city:
  wf:patrol   patrols that day
  wf:visit    visits that day
  wf:duty     distinct workers who checked in that day. The duty set `{p}duty:{area}:d:{yyyymmdd}`
              holds their ids; a check-in counts only when it adds its worker to the set, in the
              same script call (lua/field_work.lua), so a second check-in of a worker counts nothing
              and two at the same moment count once.
Like the event cohorts, only days whose day hashes are kept (`Contributions.keep_day`) are
counted; older days live in SQL only (bigscreen.reports.figures.field_work). The duty sets expire with
their day hashes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from bigscreen.live.contrib import Contributions, Delta

CHECK_IN, PATROL, VISIT = "check_in", "patrol", "visit"
FIELD_KINDS = (CHECK_IN, PATROL, VISIT)
KIND_NAMES = {CHECK_IN: "签到上岗", PATROL: "巡查", VISIT: "走访"}
DUTY_FIELD = "wf:duty"
COUNTED_FIELDS = {PATROL: "wf:patrol", VISIT: "wf:visit"}
WORKFORCE_FIELDS = (DUTY_FIELD, *COUNTED_FIELDS.values())


@dataclass(frozen=True)
class ActivityFacts:
    kind: str
    worker_id: int
    chain: tuple[str, ...]  # area codes from the city down to the grid
    at: datetime


@dataclass
class FieldWorkChange:
    """Counter increments and duty-set members of some activities: one atomic script call (live)
    or, summed over SQL, what the keys should hold (rebuild)."""

    contrib: Contributions
    inc: Delta = field(default_factory=Counter)
    duty: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (duty set, day hash) -> worker ids

    def add(self, a: ActivityFacts, now: datetime) -> bool:
        """Adds one activity; False when its day is no longer kept (nothing to count)."""
        if not self.contrib.keep_day(a.at, now):
            return False
        keys, day = self.contrib.keys, self.contrib.day(a.at)
        for code in a.chain:
            day_key = keys.day(code, day)
            if a.kind == CHECK_IN:
                self.duty.setdefault((keys.duty(code, day), day_key), set()).add(str(a.worker_id))
            else:
                self.inc[(day_key, COUNTED_FIELDS[a.kind])] += 1
        return True

    def __bool__(self) -> bool:
        return bool(self.inc or self.duty)

    def expected_hashes(self) -> Delta:
        """The day-hash fields these activities give when every check-in counts its worker once
        (what a rebuild writes): the increments plus the size of each duty set."""
        out: Delta = Counter(self.inc)
        for (_, day_key), workers in self.duty.items():
            out[(day_key, DUTY_FIELD)] += len(workers)
        return out

    def expected_sets(self) -> dict[str, set[str]]:
        return {set_key: set(workers) for (set_key, _), workers in self.duty.items()}

    def script_args(self) -> tuple[list[str], bytes]:
        index: dict[str, int] = {}

        def at(key: str) -> int:
            return index.setdefault(key, len(index) + 1)

        inc: dict[str, dict[str, int]] = {}
        for (key, name), value in self.inc.items():
            if value:
                inc.setdefault(str(at(key)), {})[name] = value
        duty = [[at(set_key), at(day_key), sorted(workers)] for (set_key, day_key), workers in self.duty.items()]
        body = {"inc": inc, "duty": duty, "field": DUTY_FIELD,
                "exp": [[i, ts] for k, i in index.items() if (ts := self.contrib.expiry(k)) is not None]}
        return list(index), orjson.dumps(body)


def workforce(day: dict[str, int]) -> dict[str, int]:
    """The figures of docs/METRICS.md from a day hash's fields (missing: 0)."""
    return {"on_duty": day.get(DUTY_FIELD, 0), "patrols_today": day.get(COUNTED_FIELDS[PATROL], 0),
            "visits_today": day.get(COUNTED_FIELDS[VISIT], 0)}
