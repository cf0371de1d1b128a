"""Health for a load balancer, answered without a session (api/security.py lets these paths by):
`/healthz` says the process answers; `/readyz` checks the parts a request needs and answers 503
with the checks that failed when one is away.

- database: `SELECT 1` answers;
- redis: `PING` answers; on a cluster, every master answers and says the cluster is ok;
- leader: some process (this one or another) holds the scheduler's lock (`jobs/leader.py`);
- frame: the city wall's frame was built less than `ready_frame_age_s` ago (the publisher builds
  one at least every second while it leads).
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from sqlalchemy import text

from bigscreen.api.responses import JSON
from bigscreen.process.redis_clients import cluster_trouble
from bigscreen.process.runtime import Runtime

HEALTH_PATHS = ("/healthz", "/readyz")

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz() -> JSON:
    return JSON({"status": "ok"})


@router.get("/readyz")
def readyz(request: Request) -> JSON:
    checks = readiness(request.app.state.runtime)
    ready = all(c["ok"] for c in checks.values())
    failed = [name for name, c in checks.items() if not c["ok"]]
    return JSON({"status": "ready" if ready else "not ready", "failed": failed, "checks": checks},
                          status_code=200 if ready else 503)


def readiness(rt: Runtime) -> dict[str, dict]:
    """Each check's outcome: {"ok": bool, ...detail}; a part that errors counts as failed."""
    checks: dict[str, dict] = {}
    try:
        with rt.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
    except Exception as exc:  # noqa: BLE001 - any failure of the part is the answer
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    try:
        rt.redis.ping()
        trouble = cluster_trouble(rt.redis)
        checks["redis"] = {"ok": True} if trouble is None else {"ok": False, "error": trouble}
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = {"ok": False, "error": type(exc).__name__}
        checks["leader"] = {"ok": False, "error": "redis unavailable"}
        checks["frame"] = {"ok": False, "error": "redis unavailable"}
        return checks
    try:
        holder = rt.redis.get(rt.keys.leader)
        checks["leader"] = {"ok": holder is not None}
        limit = rt.settings.ready_frame_age_s
        raw = rt.redis.get(rt.keys.frame(rt.areas.city.code))
        if raw is None:
            checks["frame"] = {"ok": False, "error": "no frame built", "limit_s": limit}
        else:
            age = max(0.0, rt.clock().timestamp() - orjson.loads(raw)["built_ms"] / 1000)  # the clock frames are built by
            checks["frame"] = {"ok": age <= limit, "age_s": round(age, 1), "limit_s": limit}
    except Exception as exc:  # noqa: BLE001
        checks.setdefault("leader", {"ok": False, "error": type(exc).__name__})
        checks["frame"] = {"ok": False, "error": type(exc).__name__}
    return checks
