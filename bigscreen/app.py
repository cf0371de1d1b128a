"""create_app(): the only place a Dash app is made. One ASGI app serves the API and the pages."""

from __future__ import annotations

import logging
from pathlib import Path

from dash import Dash
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse

from bigscreen.api import (
    alerts,
    events,
    field_work,
    geo,
    health,
    login,
    mediation,
    metrics,
    open311,
    report_pages,
    reports,
    whistles,
)
from bigscreen.api.auth import KeyCache
from bigscreen.api.errors import add_fallback_routes, clean_query, install_error_handlers
from bigscreen.api.fastlane import FastLane
from bigscreen.api.limits import BodyLimit, GZip
from bigscreen.api.security import Security, content_security_policy
from bigscreen.auth.kiosk import KioskTokens
from bigscreen.auth.ratelimit import LoginLimiter
from bigscreen.cases.ingest_writer import IngestWriter
from bigscreen.cases.transition_writer import TransitionWriter
from bigscreen.process.runtime import Runtime
from bigscreen.wall.direct import RawSend

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("/wall", "/duty", "/admin")  # besides "/", which Dash serves itself
log = logging.getLogger(__name__)


def create_api(rt: Runtime) -> FastAPI:
    api = FastAPI(
        title="bigscreen", version="1", openapi_url="/api/v1/openapi.json",
        docs_url=None, redoc_url=None,  # Swagger UI loads from a CDN: command centres are offline
        telemetry={"tracing": False, "metrics": False, "logs": False},  # OpenTelemetry unused: not checked per request
    )
    api.state.runtime = rt
    api.state.ingest = IngestWriter(rt)  # one group-commit writer per process, for every request
    rt.on_close(api.state.ingest.close)
    api.state.transitions = TransitionWriter(rt)  # and one for the cases' steps
    rt.on_close(api.state.transitions.close)
    api.state.api_keys = KeyCache(rt)
    api.state.login_limiter = LoginLimiter(rt)
    api.state.kiosks = KioskTokens(rt)
    api.include_router(login.router)
    api.include_router(health.router)  # no session: a load balancer asks
    api.include_router(metrics.router)  # no session: a token or an allowed address
    for router in (events.router, alerts.router, whistles.router, mediation.router, field_work.router, open311.router,
                   reports.router, report_pages.router):
        api.include_router(router, dependencies=[Depends(clean_query)])
    api.include_router(geo.router)  # before Dash adds its catch-all route
    add_fallback_routes(api)  # after every API route, before Dash's catch-all

    def openapi() -> dict:
        if api.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            from bigscreen.cases.field_work import FieldActivityIn
            from bigscreen.domain.schemas import EventIn

            doc = get_openapi(title=api.title, version=api.version, routes=api.routes)
            components = doc.setdefault("components", {}).setdefault("schemas", {})
            for model in (EventIn, FieldActivityIn):  # bodies read by hand (object or array)
                schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(schema.pop("$defs", {}))
                components[model.__name__] = schema
            api.openapi_schema = doc
        return api.openapi_schema

    api.openapi = openapi

    install_error_handlers(api, rt)
    return api


def create_app(rt: Runtime) -> Dash:
    import dash_leaflet as dl
    from dash import dcc, html

    from bigscreen.geo.assets import ensure_level_assets
    from callbacks import admin as admin_callbacks
    from callbacks import duty as duty_callbacks
    from callbacks import pages
    from callbacks import tablet as tablet_callbacks
    from callbacks import wall as wall_callbacks
    from layouts import admin as admin_layout
    from layouts import duty as duty_layout
    from layouts import ids
    from layouts import tablet as tablet_layout
    from layouts import wall as wall_layout

    api = create_api(rt)
    manifest = None
    if rt.areas.by_code:
        rt.areas.locator  # built now, not inside the first request that gives a point
        manifest = ensure_level_assets(rt)
    app = Dash(
        __name__,
        server=api,
        backend="fastapi",
        assets_folder=str(ROOT / "assets"),
        serve_locally=True,
        title=rt.config.city.title,
        update_title=None,
        websocket_inactivity_timeout=0,  # walls receive a frame a second anyway; never drop an idle wall
        # each pushed frame is sent at once: Dash would wait 5 ms for more messages to send with it, with a
        # task and a timer per message and viewer, and the wall's push sends one message per frame
        websocket_batch_delay=0,
    )
    # outside Dash's middleware (added as the Dash app was made), inside security, the body limit and gzip (added
    # later, outside it): a post to a lane passes none of Dash's per-request checks
    api.add_middleware(FastLane, lanes=events.LANES, handlers=api.exception_handlers)
    app.layout = html.Div([dcc.Location(id=ids.URL), html.Div(id=ids.PAGE)])
    app.validation_layout = html.Div([
        app.layout, tablet_layout.for_validation(),
        wall_layout.build(rt.config, scope="", scope_name="", lang="zh", fit="contain"),
        duty_layout.build(rt.config, rt.areas, officer="", area=None, lang="zh"),
        admin_layout.build(admin="", lang="zh"),
        dl.GeoJSON(id=ids.WALL_MAP_IDS.fill), dl.LayerGroup(id=ids.WALL_MAP_IDS.events),
    ])
    pages.register(app, rt, manifest)
    tablet_callbacks.register(app, rt)
    wall_callbacks.register(app, rt)
    wall_callbacks.register_push(app, rt)
    duty_callbacks.register(app, rt)
    admin_callbacks.register(app, rt)
    # The wall's polling answer (a frame) shrinks to about a fifth; responses that are already
    # compressed (the /geo files) pass as they are.
    api.add_middleware(GZip, minimum_size=1024, compresslevel=1)  # level 6 costs 5x the CPU for ~20% fewer bytes
    api.add_middleware(BodyLimit, max_bytes=rt.settings.max_body_bytes)
    # Dash prepares its page (asset scripts, callbacks) on the first request to one of its own
    # paths, and serves other paths from whichever app is global. A kiosk whose first request
    # is /wall would get a page without our scripts: prepare now, and serve our pages ourselves.
    app._setup_server()
    csp = content_security_policy(app.csp_hashes())  # after setup: every inline script is known
    api.add_middleware(Security, rt=rt, secure_cookies=rt.settings.secure_cookies, csp=csp)
    api.add_middleware(RawSend)  # outermost, added last: the server's own send, for pushed frames (bigscreen.wall.direct)
    for path in PAGES:
        api.add_api_route(path, _page(app), methods=["GET"], include_in_schema=False)
    return app


def _page(app: Dash):
    from dash.backends._fastapi import reset_current_request, set_current_request

    async def page(request: Request) -> HTMLResponse:
        token = set_current_request(request)  # Dash's index() reads the request it answers
        try:
            return HTMLResponse(app.index())
        finally:
            reset_current_request(token)

    return page


def asgi(rt: Runtime):
    """The ASGI callable uvicorn serves."""
    return create_app(rt).server
