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
from bigscreen.wall.direct import text_writer
from bigscreen.wall.eager import start_eagerly
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
        ws.set_prop_sync(ids.WALL_TICK, "disabled", True)
        session = caller().session
        connection, renderer = _connection.get(), getattr(ws, "_renderer_id", None)
        if connection is not None and renderer is not None:
            await _written_by_the_hub(rt, hub, scope, ConnectionWriter(connection, renderer), session)
            raise PreventUpdate
        queue = await hub.subscribe(scope)
        viewer, clock = Viewer(), asyncio.get_running_loop().time  # deltas to the frame it holds, whole frames else
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


async def _written_by_the_hub(rt, hub: FrameHub, scope: str, writer: ConnectionWriter, session: str | None) -> None:
    """Until the connection goes (Dash cancels the callback), fails, or its session is revoked: the hub
    writes each frame to it in its pass over the scope's viewers; this only looks at the session."""
    await hub.attach(scope, writer, writer.offer)
    try:
        while not writer.gone.is_set():
            try:
                async with asyncio.timeout(SESSION_CHECK_S):
                    await writer.gone.wait()
            except TimeoutError:
                pass
            if session and not await _alive(rt, session):
                break  # revoked or signed out: no more frames; the page's polling is refused too
    finally:
        hub.unsubscribe(scope, writer)
        writer.close()


class ConnectionWriter:
    """A pushed wall's connection, written to by the worker's hub in its pass over the scope's viewers:
    each frame (or its delta, bigscreen.wall.hub.Viewer) is written there and then (`start_eagerly`:
    no task and no wake-up per frame and viewer while the connection takes data, which is nearly always).
    A write that has to wait (the connection's buffer is full: a screen or network that stopped
    reading) goes on in a task; frames built meanwhile are not queued: the newest is kept, and written
    when that write is done, as a delta if the wall holds its base, whole else. Dash's message is made
    around a payload serialised once per frame for every viewer (`_payload`, `_message`); under uvicorn
    it is written straight to the socket (bigscreen.wall.direct), the ASGI send only when that declines."""

    __slots__ = ("connection", "opening", "direct", "viewer", "clock", "writing", "newest", "gone")

    def __init__(self, connection, renderer: str) -> None:
        self.connection, self.opening = connection, _opening(renderer)  # the message's head, made once
        # straight to the socket where uvicorn's protocol is at hand (bigscreen.wall.direct), else the ASGI send
        self.direct = text_writer(getattr(connection, "scope", {}), self.opening.encode())
        self.viewer, self.clock = Viewer(), asyncio.get_running_loop().time
        self.writing: asyncio.Task | None = None
        self.newest: Pushed | None = None
        self.gone = asyncio.Event()  # the connection failed: its callback ends

    def offer(self, pushed: Pushed) -> None:
        if self.gone.is_set():
            return
        if self.writing is not None:
            if self.newest is not None:
                metrics.push_skipped.inc()  # replaced before it was sent
            self.newest = pushed
            return
        payload = self.viewer.payload(pushed, self.clock())
        if self.direct is not None and self.direct(payload):
            return
        try:
            self.writing = start_eagerly(self.connection.send_text(_message(self.opening, payload)))
        except Exception:  # noqa: BLE001 -- the connection went away mid-write
            self.gone.set()
            return
        if self.writing is not None:
            self.writing.add_done_callback(self._written)

    def _written(self, task: asyncio.Task) -> None:
        self.writing = None
        if task.cancelled() or task.exception() is not None:
            self.gone.set()
            return
        if self.newest is not None:
            pushed, self.newest = self.newest, None
            self.offer(pushed)

    def close(self) -> None:
        self.gone.set()
        if self.writing is not None:
            self.writing.cancel()


async def _alive(rt, session: str) -> bool:
    """Whether the viewer's session still exists; while Redis is away, yes (its frames are away too)."""
    try:
        return await run_in_threadpool(Sessions(rt.redis, rt.keys).alive, session)
    except (RedisError, OSError):
        return True


def _payload(frame: str) -> bytes:
    """A frame or a delta (bigscreen.wall.delta) as the payload of Dash's set_props message, serialised
    (and encoded) once for all of a worker's viewers; assets/wall.js tells the two apart."""
    return orjson.dumps({"componentId": ids.WALL_FRAME, "props": {"data": frame}})


async def _push(ws, viewer: Viewer, pushed: Pushed, now: float) -> None:
    """Sends `viewer` the frame or its delta where its connection is not at hand (`ConnectionWriter` is
    the way when it is): through Dash's outbound queue and its sender task (`offer`), with a payload made
    once per frame by `_payload` (Dash would serialise each viewer's message itself: plotly's to_json of
    the whole frame, once per viewer). That uses dash 4.4's connection internals (the renderer id, the
    queue); without them, the public call."""
    queue, renderer = getattr(ws, "_outbound_queue", None), getattr(ws, "_renderer_id", None)
    if queue is None or renderer is None:
        ws.set_prop_sync(ids.WALL_FRAME, "data", orjson.loads(viewer.payload(pushed, now))["props"]["data"])
        return
    if not ws.is_shutdown:
        await offer(queue.async_q, renderer, viewer, pushed, now)


def _opening(renderer: str) -> str:
    """What Dash's set_props message for one connection holds before its payload (`_message`)."""
    return f'{{"type":"set_props","rendererId":{orjson.dumps(renderer).decode()},"payload":'


def _message(opening: str, payload: bytes | str) -> str:
    """Dash's set_props message for one connection (`opening`: its `_opening`), around a payload made
    once per frame (`_payload`)."""
    return f"{opening}{payload.decode() if type(payload) is bytes else payload}}}"


async def offer(outbound, renderer: str, viewer: Viewer, pushed: Pushed, now: float) -> bool:
    """Queues the frame (or its delta) for the connection's sender unless messages before it still wait
    there (OUTBOUND_WAITING_MAX: a frame, or the page's set-up and its first frame); whether it was
    queued. Through the queue's async `put`, since this runs on the connection's event loop:
    `put_nowait` (either side) wakes the loop through its self-pipe and starts a task, per viewer and frame."""
    if outbound.qsize() >= OUTBOUND_WAITING_MAX:
        viewer.skipped()
        metrics.push_skipped.inc()
        return False
    await outbound.put(_message(_opening(renderer), viewer.payload(pushed, now)))
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
