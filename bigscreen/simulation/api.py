"""The few HTTP calls the simulator makes, exactly as any other source would make them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import NamedTuple

import httpx

log = logging.getLogger("bigscreen.simulation.simulator")

REPAIRABLE = ("address", "photo_urls", "reporter_name", "reporter_phone")


class Progress(NamedTuple):
    """How far a stored case has come, for a history sent again to pick up where it stopped."""

    last_step: float            # epoch seconds of its latest step
    dispatched_to: str | None   # the department of its automatic dispatch (it may have been redispatched since)
    whistle_id: int | None      # its latest whistle, for the report-ins still to come


class StepCall(NamedTuple):
    """One step of a case as the simulator sends it: a transition named by `action`, `mediate`, `whistle`, or a
    `report_in` to the whistle `whistle_id`."""

    event_id: int | str
    action: str
    body: dict
    whistle_id: int | None = None


class ServerUnavailable(RuntimeError):
    """HTTP 401/403/429/5xx: worth trying again later, not a reason to stop."""


def epoch(value) -> float | None:
    """Epoch seconds of an ISO 8601 time (UTC when it has no offset), None when it is not one."""
    try:
        dt = datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


class CityApi:
    def __init__(self, base_url: str, api_key: str, client: httpx.Client | None = None):
        self.base_url = base_url.rstrip("/")
        self.client = client or httpx.Client(timeout=httpx.Timeout(30.0, connect=5.0))
        self._owns_client = client is None
        self._headers = {"X-API-Key": api_key}

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def call(self, method: str, path: str, **kw) -> httpx.Response:
        r = self.client.request(method, self.base_url + path, headers=self._headers, **kw)
        if r.status_code in (401, 403, 429) or r.status_code >= 500:
            raise ServerUnavailable(f"{method} {path}: HTTP {r.status_code} {r.text[:200]}")
        return r

    def areas(self, level: str) -> list[dict] | None:
        r = self.call("GET", "/api/v1/areas", params={"level": level})
        data = r.json() if r.status_code == 200 else None
        return data if isinstance(data, list) else None

    def services(self) -> list[dict] | None:
        r = self.call("GET", "/open311/v2/services.json")
        data = r.json() if r.status_code == 200 else None
        return data if isinstance(data, list) else None

    def event(self, event_id) -> dict | None:
        r = self.call("GET", f"/api/v1/events/{event_id}")
        return r.json() if r.status_code == 200 else None

    def progress(self, event_ids: list) -> dict:
        """How far each case has come (`Progress`), from its history and its whistles; cases not found are left out."""
        out = {}
        for event_id in event_ids:
            r = self.call("GET", f"/api/v1/events/{event_id}/history")
            steps = r.json().get("steps") if r.status_code == 200 else None
            if not steps:
                continue
            dispatch = next((s for s in steps if s.get("action") == "dispatch" and s.get("role") == "system"), {})
            r = self.call("GET", f"/api/v1/events/{event_id}/whistles")
            whistles = r.json().get("whistles") if r.status_code == 200 else None
            out[event_id] = Progress(max(epoch(s.get("at")) or 0.0 for s in steps), dispatch.get("department"),
                                     max((w["id"] for w in whistles or ()), default=None))
        return out

    def step(self, call: StepCall) -> httpx.Response:
        """Post one step of a case to its endpoint: a mediation step (`mediate`), a whistle, a report-in to the
        whistle `whistle_id`, or else a transition named by `action`."""
        case = f"/api/v1/events/{call.event_id}"
        if call.action == "mediate":
            return self.call("POST", f"{case}/mediation", json=call.body)
        if call.action == "whistle":
            return self.call("POST", f"{case}/whistles", json=call.body)
        if call.action == "report_in":
            return self.call("POST", f"{case}/whistles/{call.whistle_id}/reports", json=call.body)
        return self.call("POST", f"{case}/transitions", json={"action": call.action, **call.body})

    def steps(self, calls: list[StepCall], through: Callable = map) -> list[httpx.Response]:
        """Steps of distinct cases, each a request of its own, posted by `through(self.step, calls)` (the simulator's
        posts several at once through a thread pool and retries)."""
        return list(through(self.step, calls))

    def post_events(self, bodies: list[dict]) -> tuple[list[tuple[dict, dict]], int, int]:
        """POST reports in one request: (body, event) pairs, how many were new, how many were rejected.

        A batch is all or nothing, so on a 422 the named reports are repaired (a point outside the city
        gives way to the grid code, a bad optional field is left out) or dropped, and the rest is sent again."""
        rejected = 0
        for _ in range(3):
            if not bodies:
                break
            r = self.call("POST", "/api/v1/events", json=bodies if len(bodies) > 1 else bodies[0])
            if r.status_code in (200, 201):
                data = r.json()
                if isinstance(data, dict) and isinstance(data.get("events"), list):
                    events, created = data["events"], int(data.get("created") or 0)
                else:
                    events, created = [data], int(r.status_code == 201 or data.get("created") is True)
                by_id = {e.get("source_id"): e for e in events if isinstance(e, dict)}
                return [(b, by_id[b["source_id"]]) for b in bodies if b["source_id"] in by_id], created, rejected
            if r.status_code == 413 and len(bodies) > 1:
                half = len(bodies) // 2
                a, b = self.post_events(bodies[:half]), self.post_events(bodies[half:])
                return a[0] + b[0], a[1] + b[1], rejected + a[2] + b[2]
            kept = self._repair(bodies, r)
            rejected += len(bodies) - len(kept)
            bodies = kept
        return [], 0, rejected + len(bodies)

    @staticmethod
    def _repair(bodies: list[dict], r: httpx.Response) -> list[dict]:
        log.warning("simulator: POST /api/v1/events HTTP %s: %s", r.status_code, r.text[:300])
        try:
            detail = r.json()["detail"]
        except (ValueError, KeyError, TypeError):
            detail = None
        return repair(bodies, r.status_code, detail)


def repair(bodies: list[dict], status: int, detail) -> list[dict]:
    """The reports of a refused batch worth sending again: those the errors name are repaired (a point
    outside the city gives way to the grid code, a bad optional field is left out) or dropped."""
    errors = detail if isinstance(detail, list) else [detail] if detail else []
    if status != 422 or not errors:
        return []
    drop: set[int] = set()
    for e in errors:
        loc = e.get("loc", []) if isinstance(e, dict) else []
        index = loc[1] if len(bodies) > 1 and len(loc) > 2 and isinstance(loc[1], int) else 0
        name = loc[-1] if loc else None
        if not 0 <= index < len(bodies):
            continue
        if name in ("lat", "lon") and bodies[index].get("grid"):
            bodies[index].pop("lat", None), bodies[index].pop("lon", None)
        elif name in REPAIRABLE:
            bodies[index].pop(name, None)
        else:
            drop.add(index)
    return [b for i, b in enumerate(bodies) if i not in drop]
