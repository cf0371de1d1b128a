"""The few HTTP calls the simulator makes, exactly as any other source would make them."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import httpx

log = logging.getLogger("bigscreen.simulate")

REPAIRABLE = ("address", "photo_urls", "reporter_name", "reporter_phone")


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

    def step(self, event_id, action: str, body: dict, *, whistle_id=None) -> httpx.Response:
        """Post one step of a case to its endpoint: a mediation step (`mediate`), a whistle, a report-in to the
        whistle `whistle_id`, or else a transition named by `action`."""
        case = f"/api/v1/events/{event_id}"
        if action == "mediate":
            return self.call("POST", f"{case}/mediation", json=body)
        if action == "whistle":
            return self.call("POST", f"{case}/whistles", json=body)
        if action == "report_in":
            return self.call("POST", f"{case}/whistles/{whistle_id}/reports", json=body)
        return self.call("POST", f"{case}/transitions", json={"action": action, **body})

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
            errors = r.json()["detail"]
            errors = errors if isinstance(errors, list) else [errors]
        except (ValueError, KeyError, TypeError):
            errors = []
        if r.status_code != 422 or not errors:
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
