"""Prometheus `/metrics`: the figures of bigscreen.process.metrics (summed over every uvicorn
worker when `serve` runs them in multiprocess mode), plus a few read at scrape time from the
shared parts, so that any worker answering gives the same: open alerts by colour (SQL), the city
frame's age and whether some process leads (Redis).

Readable with `Authorization: Bearer <BIGSCREEN_METRICS_TOKEN>` or from an address in
`BIGSCREEN_METRICS_ALLOW` (loopback by default); others get 401 (a token is configured) or 403.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os

import orjson
from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from starlette.responses import Response

from bigscreen.alerts.desk import COLOURS, LIVE_STATUSES
from bigscreen.api.responses import JSON
from bigscreen.db.models import Alert
from bigscreen.process import metrics
from bigscreen.process.runtime import Runtime

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


@router.get("/metrics")
def scrape(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    refused = _refusal(rt, request)
    if refused is not None:
        return refused
    registry = CollectorRegistry()
    if metrics.multiprocess:
        MultiProcessCollector(registry, path=os.environ[metrics.MULTIPROC_ENV])
    else:
        registry = REGISTRY
    body = generate_latest(registry) + generate_latest(_Shared(rt))
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _refusal(rt: Runtime, request: Request) -> Response | None:
    token = rt.settings.metrics_token
    sent = request.headers.get("authorization", "")
    if token and sent.startswith("Bearer ") and hmac.compare_digest(sent[7:].encode(), token.get_secret_value().encode()):
        return None
    if _allowed(request.client.host if request.client else None, rt.settings.metrics_allow):
        return None
    if token:
        return JSON({"detail": "metrics need a bearer token"}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
    return JSON({"detail": "metrics are not readable from this address"}, status_code=403)


def _allowed(host: str | None, allow: str) -> bool:
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net.strip(), strict=False) for net in allow.split(",") if net.strip())


class _Shared:
    """Figures every worker reads alike from SQL and Redis at scrape time (a registry of its own)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self):
        rt = self.rt
        alerts = GaugeMetricFamily("bigscreen_open_alerts", "Alerts not yet resolved, by colour.", labels=["colour"])
        try:
            with rt.sessions() as s:
                counts = dict(s.execute(select(Alert.colour, func.count()).where(Alert.status.in_(LIVE_STATUSES))
                                        .group_by(Alert.colour)).all())
            for colour in COLOURS:
                alerts.add_metric([colour], counts.get(colour, 0))
            yield alerts
        except Exception as exc:  # noqa: BLE001 - a scrape still answers what it can
            log.warning("metrics: open alerts unreadable: %s", exc)
        try:
            leader = rt.redis.exists(rt.keys.leader)
            raw = rt.redis.get(rt.keys.frame(rt.areas.city.code)) if rt.areas.by_code else None  # no city: no frame
        except Exception as exc:  # noqa: BLE001
            log.warning("metrics: Redis unreadable: %s", exc)
            yield GaugeMetricFamily("bigscreen_redis_up", "Whether Redis answered this scrape.", value=0)
            return
        yield GaugeMetricFamily("bigscreen_redis_up", "Whether Redis answered this scrape.", value=1)
        yield GaugeMetricFamily("bigscreen_leader_held", "Whether some process holds the scheduler's lock.", value=leader)
        if raw is not None:
            age = max(0.0, rt.clock().timestamp() - orjson.loads(raw)["built_ms"] / 1000)
            yield GaugeMetricFamily("bigscreen_frame_age_seconds", "Age of the city wall's latest frame.", value=age)
