"""Viewers without browsers: polling clients (wrk, or httpx when wrk is missing), push clients that
speak Dash's websocket protocol (a separate process, so their CPU is theirs; for a measured window,
or recording every frame until told to stop), and a byte-counting TCP proxy for bytes on the wire.
Used by benchmarks/wall.py and benchmarks/soak.py.

Dash's websocket protocol, as dash-renderer's SharedWorker speaks it (dash/backends/_fastapi.py
websocket_handler, dash-renderer/build/dash-ws-worker.js): the client sends
{"type": "callback_request", "rendererId", "requestId", "payload"} for the wall's persistent
callback (payload captured from Chromium); the server asks {"type": "get_props_request",
"requestId", "payload": {"componentId": "url", "properties": ["pathname"]}} and then the same for
"wall-root" "data-scope"; the client answers {"type": "get_props_response", "requestId", "payload":
{"pathname": "/wall"}} and {"data-scope": scope};
from then on the server sends {"type": "set_props", "payload": {"componentId": "wall-frame",
"props": {"data": frame}}} (several at once arrive as a JSON array). Since issue 14 `data` is either
a whole frame or a delta to the frame the client holds (bigscreen.wall.delta): a client applies it
as assets/wall.js does, and counts a delta that does not start from its frame as a gap.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def auth_headers() -> dict[str, str]:
    """The wall's session (a kiosk token exchanged at /wall, see wall_env.Env.sign_in_wall):
    its cookie, and the CSRF token every POST must echo. Set in the environment, so the
    push-client process and wrk see it too."""
    return {"Cookie": os.environ.get("BENCH_COOKIE", ""), "X-CSRFToken": os.environ.get("BENCH_CSRF", "")}


WRK_LUA = r"""
-- POST the wall's polling callback; with BENCH_DELAY_MS each connection waits that long between
-- requests (its first wait random, so the viewers do not poll in step).
local body = os.getenv("BENCH_BODY")
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local per_thread = tonumber(os.getenv("BENCH_CONNS_PER_THREAD") or "1")
local calls = 0
local tid = 0
function setup(thread) tid = tid + 1; thread:set("tid", tid) end
function init(args)
  wrk.method = "POST"
  wrk.path = os.getenv("BENCH_PATH")
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE") or ""
  wrk.headers["X-CSRFToken"] = os.getenv("BENCH_CSRF") or ""
  math.randomseed(os.time() * 100 + (tid or 0))
end
if delay_ms > 0 then
  function delay()
    calls = calls + 1
    if calls <= per_thread then return math.random(0, delay_ms) end
    return delay_ms
  end
end
function done(summary, latency, requests)
  io.write(string.format("WRK requests=%d duration_us=%d bytes=%d non2xx=%d errors=%d p50_ms=%.3f p95_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
    summary.requests, summary.duration, summary.bytes, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
"""


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def wrk_poll(url: str, path: str, body: str, *, connections: int, threads: int, seconds: float, delay_ms: int = 0) -> dict:
    """wrk posting the polling callback request; returns its counts and latency percentiles (ms)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_LUA)
        script = f.name
    try:
        env = {**os.environ, "BENCH_PATH": path, "BENCH_BODY": body, "BENCH_DELAY_MS": str(delay_ms),
               "BENCH_CONNS_PER_THREAD": str(max(1, connections // threads))}
        timeout = "10s"
        out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(seconds)}s", f"--timeout={timeout}", "-s", script, url],
                             capture_output=True, text=True, env=env, check=True, timeout=seconds + 60).stdout
    finally:
        os.unlink(script)
    line = next((ln for ln in out.splitlines() if ln.startswith("WRK ")), None)
    if line is None:
        raise RuntimeError(out)
    f = dict(kv.split("=") for kv in line.split()[1:])
    res = {k: float(v) for k, v in f.items()}
    res["rate"] = res["requests"] / (res["duration_us"] / 1e6)
    return res


def httpx_poll(url: str, path: str, body: str, *, seconds: float, max_requests: int) -> dict:
    """Sequential polls on one keep-alive connection (the fallback when wrk is missing)."""
    import httpx

    lat = []
    headers = {"Content-Type": "application/json", **auth_headers()}
    with httpx.Client(base_url=url, timeout=10) as client:
        t_end = time.monotonic() + seconds
        t0 = time.monotonic()
        while time.monotonic() < t_end and len(lat) < max_requests:
            t = time.perf_counter()
            r = client.post(path, content=body, headers=headers)
            lat.append((time.perf_counter() - t) * 1000)
            if r.status_code != 200:
                raise RuntimeError(f"poll: {r.status_code} {r.text[:200]}")
        wall = time.monotonic() - t0
    lat.sort()
    return {"requests": len(lat), "rate": len(lat) / wall, "p50_ms": lat[len(lat) // 2], "p95_ms": lat[int(len(lat) * 0.95)],
            "p99_ms": lat[int(len(lat) * 0.99)], "max_ms": lat[-1], "non2xx": 0, "errors": 0, "duration_us": wall * 1e6}


async def _httpx_viewers(url: str, path: str, body: str, n: int, seconds: float) -> dict:
    import random

    import httpx

    lat, errors = [], 0
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    headers = {"Content-Type": "application/json", **auth_headers()}
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10) as client:
        t_end = time.monotonic() + seconds

        async def viewer():
            nonlocal errors
            await asyncio.sleep(random.uniform(0, 1))
            while time.monotonic() < t_end:
                t = time.perf_counter()
                try:
                    r = await client.post(path, content=body, headers=headers)
                    lat.append((time.perf_counter() - t) * 1000)
                    errors += r.status_code != 200
                except httpx.HTTPError:
                    errors += 1
                await asyncio.sleep(1.0)

        t0 = time.monotonic()
        await asyncio.gather(*(viewer() for _ in range(n)))
        wall = time.monotonic() - t0
    lat.sort()
    return {"requests": len(lat), "rate": len(lat) / wall, "p50_ms": lat[len(lat) // 2], "p95_ms": lat[int(len(lat) * 0.95)],
            "p99_ms": lat[int(len(lat) * 0.99)], "max_ms": lat[-1], "non2xx": errors, "errors": 0, "duration_us": wall * 1e6}


def poll_viewers(url: str, path: str, body: str, n: int, seconds: float) -> dict:
    """`n` viewers each polling once a second (1 s between a response and the next request)."""
    if have_wrk():
        return wrk_poll(url, path, body, connections=n, threads=2, seconds=seconds, delay_ms=1000)
    return asyncio.run(_httpx_viewers(url, path, body, n, seconds))


# -- push viewers ------------------------------------------------------------------------------

def _frames_in(raw: str, held: dict | None, counts: dict) -> tuple[dict | None, list[int]]:
    """The wall's frames in one websocket message, as the wall holds them after each: (the frame
    held at the end, built_ms of each frame received)."""
    import orjson

    built = []
    for m in (lambda d: d if isinstance(d, list) else [d])(orjson.loads(raw)):
        if m.get("type") != "set_props" or m["payload"].get("componentId") != "wall-frame":
            continue
        data = orjson.loads(m["payload"]["props"]["data"])
        if "ops" in data:
            counts["deltas"] += 1
            if held is None or held.get("seq") != data["base"]:
                counts["gaps"] += 1
                continue
            from bigscreen.wall.delta import apply  # only code that sends deltas gets here: it has the module

            apply(held, data["ops"])
        else:
            counts["wholes"] += 1
            held = data
        built.append(held["built_ms"])
    return held, built


_FRAME_HEAD = re.compile(rb'\\"seq\\":(\d+)(?:,\\"base\\":(\d+))?')
_FRAME_BUILT = re.compile(rb'\\"built_ms\\"\]?[:,](\d+)')


def _frames_scanned(raw: bytes, held: int | None, counts: dict) -> tuple[int | None, list[int]]:
    """`_frames_in` without decoding: the number of the frame held at the end (not the frame) and
    built_ms of each frame received, read from the message's bytes. Each frame's data opens with
    `{"seq":S` (a whole frame) or `{"seq":S,"base":B` (a delta), and carries `"built_ms":M` (a
    whole frame) or the edit `[["built_ms"],M]` (a delta). A soak's walls read hundreds of messages
    a second in one process: decoding each and applying its delta (what `_frames_in` and
    assets/wall.js do) made that process the slowest part of the soak, its sockets full and its
    pings answered too late (the server then closes the connection)."""
    built: list[int] = []
    parts = raw.split(b"wall-frame")
    for part in parts[1:]:
        head = _FRAME_HEAD.search(part)
        if head is None:
            continue
        if head.group(2) is not None:
            counts["deltas"] += 1
            if held != int(head.group(2)):
                counts["gaps"] += 1
                continue
        else:
            counts["wholes"] += 1
        held = int(head.group(1))
        at = _FRAME_BUILT.search(part, head.end())
        if at is not None:
            built.append(int(at.group(1)))
    return held, built


async def push_viewer(url: str, payload: dict, scope: str, rid: str, *, sem: asyncio.Semaphore, stop, counts: dict,
                      on_frames=None, on_message=None, compression: str | None = None) -> None:
    """One pushed wall on its own websocket until `stop()` is true: connects (inside `sem`, so
    connections ramp up), sends the wall's persistent callback, answers the server's questions
    about the page, and holds the frame as the wall does (deltas applied, gaps counted in
    `counts`). Calls `on_frames(received_at, built_ms_list, message_bytes)` for every message that
    carries the wall's frame (the list is empty when it brought only a gap); or, given `on_message`,
    calls `on_message(received_at, raw)` and leaves the decoding to the caller (`decode_frames`), so
    that one process holding many viewers timestamps each message as it arrives instead of after the
    decoding of every message read before it. Raises what the connection raises (the caller counts it)."""
    import websockets

    ws_url = url.replace("http://", "ws://") + "/_dash-ws-callback"
    async with sem:
        ws = await websockets.connect(ws_url, origin=url, max_size=None, ping_interval=None, compression=compression,
                                      open_timeout=30, additional_headers={"Cookie": auth_headers()["Cookie"]})
    held = None
    async with ws:
        await ws.send(json.dumps({"type": "callback_request", "rendererId": rid, "requestId": f"{rid}-1", "payload": payload}))
        while not stop():
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=1.0)
            except asyncio.TimeoutError:
                continue
            now = time.time()
            if '"get_props_request"' in raw[:200]:
                for m in (lambda d: d if isinstance(d, list) else [d])(json.loads(raw)):
                    if m.get("type") == "get_props_request":
                        page = {"data-scope": scope, "pathname": "/wall"}  # the wall's root, the page's URL
                        asked = {k: page.get(k) for k in m["payload"].get("properties", [])}
                        await ws.send(json.dumps({"type": "get_props_response", "rendererId": rid,
                                                  "requestId": m["requestId"], "payload": asked}))
            if "wall-frame" not in raw:
                continue
            if on_message is not None:
                on_message(now, raw)
                continue
            held, built_ms = _frames_in(raw, held, counts)
            on_frames(now, built_ms, len(raw.encode()))


class RawWall(asyncio.Protocol):
    """A pushed wall at the least cost to the load generator: a bare asyncio protocol that speaks just
    enough of RFC 6455 (the opening handshake, the server's unmasked frames, masked text frames and
    pongs back) and Dash's websocket protocol (as `push_viewer`). Every message that carries the wall's
    frame goes to `on_message(received_at, raw bytes)`, timestamped once per read from the socket, and
    is decoded after the measured window (`decode_frames`). The websockets library's client spends
    ~50 us of Python per message (its frame parser, its assembler, a task per `wait_for`): with 2,000
    viewers on the server's own 2 cores that is CPU the server's burst of sends does not get, and
    arrival times that include the client's queueing. No permessage-deflate: `push_viewer` speaks that."""

    def __init__(self, host: str, path: str, payload: dict, scope: str, rid: str, on_message) -> None:
        import base64

        self.request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n"
                        f"Origin: http://{host}\r\nCookie: {auth_headers()['Cookie']}\r\n\r\n").encode()
        self.first = json.dumps({"type": "callback_request", "rendererId": rid, "requestId": f"{rid}-1", "payload": payload})
        self.scope, self.rid, self.on_message = scope, rid, on_message
        self.buffer = bytearray()
        self.opened = False
        self.fragments: list[bytes] = []
        self.closed = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc) -> None:
        if not self.closed.done():
            self.closed.set_result(exc)

    def send(self, opcode: int, data: bytes) -> None:
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x80 | opcode]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
                                        if n < 65536 else bytes([0x80 | 127]) + n.to_bytes(8, "big"))
        key = int.from_bytes((mask * (n // 4 + 1))[:n], "big") if n else 0
        self.transport.write(head + mask + (int.from_bytes(data, "big") ^ key).to_bytes(n, "big"))

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buf = self.buffer
        buf += data
        if not self.opened:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.transport.close()
                self.closed.set_result(RuntimeError(bytes(buf[:200]).decode(errors="replace")))
                return
            del buf[: end + 4]
            self.opened = True
            self.send(0x1, self.first.encode())
        while len(buf) >= 2:
            n, at = buf[1] & 0x7F, 2
            if n == 126:
                if len(buf) < 4:
                    return
                n, at = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n, at = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < at + n:
                return
            fin, opcode, body = buf[0] & 0x80, buf[0] & 0x0F, bytes(buf[at : at + n])
            del buf[: at + n]
            if opcode == 0x9:
                self.send(0xA, body)  # uvicorn pings every 20 s and closes a connection that does not answer
            elif opcode == 0x8:  # the server's close: its code and reason are what the failure says
                code = int.from_bytes(body[:2], "big") if len(body) >= 2 else None
                if not self.closed.done():
                    self.closed.set_result(f"close {code} {body[2:].decode(errors='replace')!r}")
                self.transport.close()
            elif opcode in (0x0, 0x1):
                self.fragments.append(body)
                if fin:
                    self.message(now, b"".join(self.fragments))
                    self.fragments = []

    def message(self, now: float, raw: bytes) -> None:
        if b'"get_props_request"' in raw[:200]:
            for m in (lambda d: d if isinstance(d, list) else [d])(json.loads(raw)):
                if m.get("type") == "get_props_request":
                    page = {"data-scope": self.scope, "pathname": "/wall"}  # the wall's root, the page's URL
                    asked = {k: page.get(k) for k in m["payload"].get("properties", [])}
                    self.send(0x1, json.dumps({"type": "get_props_response", "rendererId": self.rid,
                                               "requestId": m["requestId"], "payload": asked}).encode())
        if b"wall-frame" in raw:
            self.on_message(now, raw)


async def raw_viewer(url: str, payload: dict, scope: str, rid: str, *, sem: asyncio.Semaphore, stop, on_message) -> None:
    """`push_viewer` through `RawWall`, with `on_message`; raises if the connection fails or ends early."""
    host = url.split("://", 1)[1].rstrip("/")
    name, port = host.rsplit(":", 1)
    loop = asyncio.get_running_loop()
    async with sem:
        transport, wall = await loop.create_connection(lambda: RawWall(host, "/_dash-ws-callback", payload, scope, rid, on_message),
                                                       name, int(port))
    try:
        while not stop():
            if wall.closed.done():
                raise ConnectionError(f"the server closed the connection: {wall.closed.result()!r}")
            await asyncio.sleep(0.5)
    finally:
        transport.close()


def decode_frames(messages: list[tuple[float, str]], counts: dict) -> list[tuple[float, int, int]]:
    """What `push_viewer` would have made of one viewer's messages, in order, as it held the frame:
    (received at, built_ms, message bytes) of each frame, deltas applied, gaps counted in `counts`."""
    held, out = None, []
    for now, raw in messages:
        size = len(raw) if isinstance(raw, bytes) else len(raw.encode())
        held, built_ms = _frames_in(raw.decode() if isinstance(raw, bytes) else raw, held, counts)
        out.extend((now, built, size) for built in built_ms)
    return out


async def _push_viewers(url: str, payload: dict, scope: str, n: int, settle_s: float, seconds: float, ramp: int,
                        compression: str | None, client: str = "websockets") -> dict:
    """`n` pushed walls for a measured window; `client`: "raw" (`RawWall`) or "websockets" (`push_viewer`)."""
    records: list[list] = [[] for _ in range(n)]
    sizes: list[int] = []
    counts = {"deltas": 0, "wholes": 0, "gaps": 0}
    state = {"stop": False}
    ready = [asyncio.Event() for _ in range(n)]
    failures = []

    received: list[list[tuple[float, str]]] = [[] for _ in range(n)]  # decoded after the window, away from the clock

    async def viewer(i: int, sem: asyncio.Semaphore) -> None:
        def seen(now: float, raw: str) -> None:
            ready[i].set()
            if not state["stop"]:
                received[i].append((now, raw))

        try:
            if client == "raw":
                await raw_viewer(url, payload, scope, f"bench-{os.getpid()}-{i}", sem=sem, stop=lambda: state["stop"],
                                 on_message=seen)
            else:
                await push_viewer(url, payload, scope, f"bench-{os.getpid()}-{i}", sem=sem, stop=lambda: state["stop"],
                                  counts=counts, on_message=seen, compression=compression)
        except Exception as exc:  # noqa: BLE001 -- counted and reported
            failures.append(repr(exc)[:200])
            ready[i].set()

    sem = asyncio.Semaphore(ramp)
    t0 = time.monotonic()
    tasks = [asyncio.create_task(viewer(i, sem)) for i in range(n)]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready)), timeout=120)
    connected_s = time.monotonic() - t0
    await asyncio.sleep(settle_s)
    m0 = time.time()
    await asyncio.sleep(seconds)
    m1 = time.time()
    state["stop"] = True
    await asyncio.gather(*tasks, return_exceptions=True)
    for i, messages in enumerate(received):
        for now, built, size in decode_frames(messages, counts):
            if m0 <= now < m1:
                records[i].append((now, built))
                if len(sizes) < 200:
                    sizes.append(size)
    return {"records": records, "sizes": sizes, "failures": failures, "connected_s": connected_s, "window": [m0, m1], **counts}


def push_client_process(url: str, payload: dict, scope: str, n: int, settle_s: float, seconds: float,
                        ramp: int = 25, compression: str | None = "deflate", client: str = "websockets") -> subprocess.Popen:
    """Starts the push viewers in their own process; `collect()` its result. `client` as `_push_viewers`."""
    out = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    out.close()
    args = json.dumps({"url": url, "payload": payload, "scope": scope, "n": n, "settle_s": settle_s, "seconds": seconds,
                       "ramp": ramp, "compression": compression, "client": client, "out": out.name})
    proc = subprocess.Popen([sys.executable, __file__, "push-client", args])
    proc.out_path = out.name  # type: ignore[attr-defined]
    return proc


def collect(proc: subprocess.Popen, timeout: float) -> dict:
    proc.wait(timeout)
    path = Path(proc.out_path)  # type: ignore[attr-defined]
    try:
        return json.loads(path.read_text())
    finally:
        path.unlink(missing_ok=True)


async def _push_recorders(urls: list[str], payload: dict, scope: str, n: int, stop_path: str, ramp: int,
                          compression: str | None, client: str = "websockets") -> dict:
    """`n` pushed walls spread over `urls` (round robin), each noting (received at, built_ms) of every
    frame it holds, until the file `stop_path` exists (a soak's viewers: benchmarks/soak.py). Touches
    `stop_path`.ready once every viewer holds a frame or failed. `client` as `_push_viewers` (with "raw",
    each message is decoded as it arrives, after its timestamp: a soak's messages are too many to keep)."""
    from array import array

    recv = [array("d") for _ in range(n)]
    built = [array("d") for _ in range(n)]
    sizes: list[int] = []
    counts = {"deltas": 0, "wholes": 0, "gaps": 0}
    failures: list[tuple[float, int, str]] = []
    state = {"stop": False}
    first: list[float | None] = [None] * n

    async def viewer(i: int, sem: asyncio.Semaphore) -> None:
        def seen(now: float, built_ms: list[int], size: int) -> None:
            for b in built_ms:
                if first[i] is None:
                    first[i] = now
                recv[i].append(now)
                built[i].append(b / 1000)
            if len(sizes) < 1000 and built_ms:
                sizes.append(size)

        holding: list = [None]

        def arrived(now: float, raw: bytes) -> None:
            holding[0], built_ms = _frames_scanned(raw, holding[0], counts)
            seen(now, built_ms, len(raw))

        try:
            if client == "raw":
                await raw_viewer(urls[i % len(urls)], payload, scope, f"soak-{os.getpid()}-{i}", sem=sem,
                                 stop=lambda: state["stop"], on_message=arrived)
            else:
                await push_viewer(urls[i % len(urls)], payload, scope, f"soak-{os.getpid()}-{i}", sem=sem,
                                  stop=lambda: state["stop"], counts=counts, on_frames=seen, compression=compression)
        except Exception as exc:  # noqa: BLE001 -- counted and reported
            failures.append((time.time(), i, repr(exc)[:200]))

    async def watch_stop() -> None:
        ready = False
        while not os.path.exists(stop_path):
            if not ready and len(failures) + sum(f is not None for f in first) >= n:
                Path(stop_path + ".ready").touch()  # every viewer holds a frame (or failed)
                ready = True
            await asyncio.sleep(0.2)
        state["stop"] = True

    lags: list[float] = []  # how late this process's own loop ran a 0.25 s timer: a client behind reads late

    async def watch_lag() -> None:
        loop = asyncio.get_running_loop()
        while not state["stop"]:
            asked = loop.time() + 0.25
            await asyncio.sleep(0.25)
            lags.append(loop.time() - asked)

    t0 = time.time()
    sem = asyncio.Semaphore(ramp)
    await asyncio.gather(watch_stop(), watch_lag(), *(viewer(i, sem) for i in range(n)), return_exceptions=True)
    ordered = sorted(lags) or [0.0]
    return {"recv": recv, "built": built, "sizes": sizes, "failures": failures, "started": t0,
            "first": first, "client_lag_s": [ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.95)], ordered[-1]],
            **counts}


def push_recorder_process(urls: list[str], payload: dict, scope: str, n: int, stop_path: str, ramp: int = 25,
                          compression: str | None = None, client: str = "websockets") -> subprocess.Popen:
    """Starts `_push_recorders` in a process of its own; `collect_recorder()` reads what it noted."""
    out = tempfile.NamedTemporaryFile("w", suffix=".npz", delete=False)
    out.close()
    args = json.dumps({"urls": urls, "payload": payload, "scope": scope, "n": n, "stop": stop_path, "ramp": ramp,
                       "compression": compression, "client": client, "out": out.name})
    proc = subprocess.Popen([sys.executable, __file__, "push-recorder", args])
    proc.out_path = out.name  # type: ignore[attr-defined]
    return proc


def collect_recorder(proc: subprocess.Popen, timeout: float) -> dict:
    """What one recorder process noted: per viewer, numpy arrays of receive times and built times
    (epoch seconds), and its counts and failures."""
    import numpy as np

    proc.wait(timeout)
    path = Path(proc.out_path)  # type: ignore[attr-defined]
    try:
        with np.load(path, allow_pickle=False) as z:
            offsets = z["offsets"]
            recv, built = z["recv"], z["built"]
            meta = json.loads(str(z["meta"]))
    finally:
        path.unlink(missing_ok=True)
    meta["recv"] = [recv[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
    meta["built"] = [built[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
    return meta


def _write_recorded(result: dict, out: str) -> None:
    import numpy as np

    lengths = [len(r) for r in result["recv"]]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    recv = np.concatenate([np.frombuffer(r, dtype=np.float64) for r in result["recv"]]) if lengths else np.zeros(0)
    built = np.concatenate([np.frombuffer(b, dtype=np.float64) for b in result["built"]]) if lengths else np.zeros(0)
    meta = {k: v for k, v in result.items() if k not in ("recv", "built")}
    with open(out, "wb") as f:
        np.savez(f, offsets=offsets, recv=recv, built=built, meta=np.array(json.dumps(meta)))


# -- bytes on the wire -------------------------------------------------------------------------

class CountingProxy:
    """A TCP proxy on loopback counting bytes each way per connection (browser → proxy → server)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.conns: list[dict] = []
        self._ready = threading.Event()

    def __enter__(self) -> CountingProxy:
        from wall_env import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    async def _shutdown(self) -> None:
        self.server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", self.port))
        self._ready.set()
        self.loop.run_forever()

    async def _handle(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        sr, sw = await asyncio.open_connection("127.0.0.1", self.target_port)
        rec = {"first": b"", "up": 0, "down": 0}
        self.conns.append(rec)

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter, key: str) -> None:
            try:
                while data := await r.read(65536):
                    if key == "up" and not rec["first"]:
                        rec["first"] = data[:64]
                    rec[key] += len(data)
                    w.write(data)
                    await w.drain()
            except (ConnectionError, OSError, asyncio.CancelledError):
                pass
            finally:
                w.close()

        try:
            await asyncio.gather(pipe(cr, sw, "up"), pipe(sr, cw, "down"))
        except asyncio.CancelledError:
            pass  # the proxy is closing

    def totals(self, websocket: bool) -> tuple[int, int]:
        """(bytes up, bytes down) over the websocket connections, or over all the others."""
        conns = [c for c in list(self.conns) if c["first"].startswith(b"GET /_dash-ws-callback") == websocket]
        return sum(c["up"] for c in conns), sum(c["down"] for c in conns)


def _runner(client: str):
    """asyncio.run, or for the raw client uvloop's (uvicorn's own loop: reads, wake-ups and callbacks in C)."""
    if client != "raw":
        return asyncio.run
    import uvloop

    return uvloop.run


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "push-client":
    a = json.loads(sys.argv[2])
    client = a.get("client", "websockets")
    result = _runner(client)(_push_viewers(a["url"], a["payload"], a["scope"], a["n"], a["settle_s"], a["seconds"], a["ramp"],
                               a["compression"], client))
    Path(a["out"]).write_text(json.dumps(result))
elif __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "push-recorder":
    a = json.loads(sys.argv[2])
    client = a.get("client", "websockets")
    _write_recorded(_runner(client)(_push_recorders(a["urls"], a["payload"], a["scope"], a["n"], a["stop"], a["ramp"],
                                        a["compression"], client)), a["out"])
