"""Wall callbacks: the server hands over the ready frame as it is; assets/wall.js draws it."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar

import dash
import orjson
from dash import ClientsideFunction, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool

from bigscreen.auth.context import caller, require
from bigscreen.auth.roles import Permission
from bigscreen.auth.sessions import Sessions
from bigscreen.process import metrics
from bigscreen.wall.hub import FrameHub, Pushed, Viewer
from layouts import ids


def register(app, rt) -> None:
    @app.callback(Output(ids.WALL_FRAME, "data"), Input(ids.WALL_TICK, "n_intervals"), State(ids.WALL_ROOT, "data-scope"))
    async def fetch_wall_frame(_n, scope):
        """Polling, the fallback while the push channel is down. Async: Dash runs a callback on the
        worker's event loop, which also carries every pushed frame."""
        scope = scope or rt.areas.city.code
        require(Permission.VIEW_WALL, action="view wall", area_chain=rt.areas.chain_of(scope), subject=scope)
        try:
            frame = await frame_hub(rt).read(scope)
        except (RedisError, OSError):
            frame = None
        return frame or no_update  # no frame: keep the last picture

    app.clientside_callback(
        ClientsideFunction(namespace="wall", function_name="render"),
        Output(ids.WALL_RENDERED, "data"),
        Output(ids.WALL_MAP_IDS.fill, "hideout"),
        Output(ids.WALL_MAP_IDS.events, "children"),
        Input(ids.WALL_FRAME, "data"),
    )


_hubs: dict[int, FrameHub] = {}


def frame_hub(rt) -> FrameHub:
    """The worker's hub (one per event loop): its Redis subscription and async client."""
    loop = id(asyncio.get_running_loop())
    if loop not in _hubs:
        _hubs[loop] = FrameHub(rt.settings, rt.keys, encode=_payload, health=rt.health)
    return _hubs[loop]


PUSH_WAIT_S = 5.0  # how long a page has to show a wall before the push gives up on it
SESSION_CHECK_S = 30.0  # a pushed viewer's session is looked at this often: revoked, its frames stop within it
WALL_PATHS = ("/wall", "/wall/")
OUTBOUND_WAITING_MAX = 2  # messages waiting to be sent to one connection beyond which a frame is skipped


# The connection a websocket callback runs for: set by Dash's message hook in the connection's own task just
# before it starts the callback's task, which inherits it (asyncio copies the context into a new task), so a
# callback can only ever find its own connection.
_connection: ContextVar = ContextVar("wall_connection", default=None)


@dash.hooks.websocket_message()  # Dash's hooks are the process's, not one app's: registered once, on import
def _note_connection(websocket, message) -> None:
    """Notes the connection a callback request came on. Never refuses."""
    if isinstance(message, dict) and message.get("type") == "callback_request":
        _connection.set(websocket)


def register_push(app, rt) -> None:
    """Frames pushed over Dash's websocket as they are built; polling stays as the fallback
    (the browser turns it back on when pushed frames stop, see assets/wall.js)."""
    @app.callback(persistent=True, websocket=True)
    async def push_wall_frames():
        ws = ctx.websocket
        if ws is None:
            raise PreventUpdate
        scope = await _wall_scope(ws)
        if scope is None or scope not in rt.areas.by_code:
            raise PreventUpdate  # this page shows no wall
        require(Permission.VIEW_WALL, action="view wall", area_chain=rt.areas.chain_of(scope), subject=scope)
        hub = frame_hub(rt)
        queue = await hub.subscribe(scope)
        ws.set_prop_sync(ids.WALL_TICK, "disabled", True)
        viewer, clock = Viewer(), asyncio.get_running_loop().time  # deltas to the frame it holds, whole frames else
        session = caller().session
        checked = clock()
        try:
            while not ws.is_shutdown:
                try:
                    async with asyncio.timeout(1.0):  # not wait_for: that makes a task per frame and viewer
                        pushed = await queue.get()
                except TimeoutError:
                    pushed = None
                if session and clock() - checked >= SESSION_CHECK_S:
                    checked = clock()
                    if not await _alive(rt, session):
                        break  # revoked or signed out: no more frames; the page's polling is refused too
                if pushed is not None:
                    await _push(ws, viewer, pushed, clock())
        finally:
            hub.unsubscribe(scope, queue)
        raise PreventUpdate


async def _alive(rt, session: str) -> bool:
    """Whether the viewer's session still exists; while Redis is away, yes (its frames are away too)."""
    try:
        return await run_in_threadpool(Sessions(rt.redis, rt.keys).alive, session)
    except (RedisError, OSError):
        return True


def _payload(frame: str) -> str:
    """A frame or a delta (bigscreen.wall.delta) as the payload of Dash's set_props message, serialised
    once for all of a worker's viewers; assets/wall.js tells the two apart."""
    return orjson.dumps({"componentId": ids.WALL_FRAME, "props": {"data": frame}}).decode()


async def _push(ws, viewer: Viewer, pushed: Pushed, now: float) -> None:
    """Sends `viewer` the frame or its delta, as `ws.set_prop_sync` would, with a payload made once per
    frame by `_payload`: Dash serialises each viewer's message itself (plotly's to_json of the whole
    frame, once per viewer). It uses dash 4.4's connection internals (the renderer id), and writes the
    message to the connection itself (`_connection`) rather than through Dash's outbound queue and its
    sender task: two wake-ups less per frame and viewer, a quarter of the server's CPU per pushed
    message (docs/BENCHMARKS.md). A connection whose screen or network stopped taking frames then holds
    up only its own callback, in the server's write (uvicorn waits while the connection's buffer is
    full), while the hub keeps just the newest frame for it; it gets that one whole when it reads again.
    Without the connection it goes through the outbound queue (`offer`); without the internals, through
    the public call."""
    queue, renderer = getattr(ws, "_outbound_queue", None), getattr(ws, "_renderer_id", None)
    if queue is None or renderer is None:
        ws.set_prop_sync(ids.WALL_FRAME, "data", orjson.loads(viewer.payload(pushed, now))["props"]["data"])
        return
    if ws.is_shutdown:
        return
    connection = _connection.get()
    if connection is None:
        await offer(queue.async_q, renderer, viewer, pushed, now)
        return
    try:
        await connection.send_text(_message(renderer, viewer.payload(pushed, now)))
    except Exception:  # noqa: BLE001 -- the connection went away mid-write: its callback ends with it
        viewer.skipped()


def _message(renderer: str, payload: str) -> str:
    """Dash's set_props message for one connection, around a payload made once per frame (`_payload`)."""
    return f'{{"type":"set_props","rendererId":{orjson.dumps(renderer).decode()},"payload":{payload}}}'


async def offer(outbound, renderer: str, viewer: Viewer, pushed: Pushed, now: float) -> bool:
    """Queues the frame (or its delta) for the connection's sender unless messages before it still wait
    there (OUTBOUND_WAITING_MAX: a frame, or the page's set-up and its first frame); whether it was
    queued. Through the queue's async `put`, since this runs on the connection's event loop:
    `put_nowait` (either side) wakes the loop through its self-pipe and starts a task, per viewer and frame."""
    if outbound.qsize() >= OUTBOUND_WAITING_MAX:
        viewer.skipped()
        metrics.push_skipped.inc()
        return False
    await outbound.put(_message(renderer, viewer.payload(pushed, now)))
    return True


async def _wall_scope(ws) -> str | None:
    """The scope of the wall on this page, once the page has rendered one; None at once on
    another page (the desk, the tablets), which never shows a wall."""
    try:
        path = await ws.get_prop(ids.URL, "pathname", timeout=PUSH_WAIT_S)
    except Exception:  # noqa: BLE001 - the socket went away
        return None
    if path not in WALL_PATHS:
        return None
    deadline = asyncio.get_running_loop().time() + PUSH_WAIT_S
    while not ws.is_shutdown and asyncio.get_running_loop().time() < deadline:
        try:
            scope = await ws.get_prop(ids.WALL_ROOT, "data-scope", timeout=1.0)
        except Exception:  # noqa: BLE001 - the component is not there yet, or the socket went away
            scope = None
        if scope:
            return scope
        await asyncio.sleep(0.25)
    return None
