"""The soak's load, in a process of its own (its CPU is its own, and its clock is not held up by
the orchestrating process): reports at a steady rate through `POST /api/v1/events`, a share of
the cases moved along their life (return and dispatch again, accept, start, handle, verify, close,
rate) through `POST /api/v1/events/{id}/transitions`, and duty officers signed in through the login
form who acknowledge the alerts raised and resolve them later through `/api/v1/alerts`. Requests
go to the servers round robin (reports and steps through a small raw HTTP/1.1 client: see RawClient). Every answer is kept: per report its send time, answer time and
status (an .npz the soak reads), per step and officer action its status. Used by benchmarks/soak.py.

    python benchmarks/soak_load.py ARGS.json OUT.npz
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from wall_env import event_body  # noqa: E402

from bigscreen.simulation.life import step_body  # noqa: E402
from bigscreen.simulation.vocab import DEFAULT_PROFILE  # noqa: E402

HAPPY = ("accept", "start", "handle", "verify", "close")
RETURNED = ("return", "dispatch")  # a department sends it back, the centre dispatches it again
RETURN_SHARE, RATE_SHARE = 0.05, 0.9
STEP_GAP_S = (0.5, 3.0)  # between two steps of a moved case (a life in seconds, so the run sees it end)
OFFICER_EVERY_S = 2.0
ACK_AFTER_S, RESOLVE_AFTER_S = 3.0, 20.0
MAX_IN_FLIGHT = 256
IDLE_S = 3.0  # a kept-alive connection idle longer is closed rather than reused (uvicorn closes them after 5 s)


class RawClient:
    """Keep-alive HTTP/1.1 POSTs of JSON over asyncio streams, a connection per request in flight.
    httpx's AsyncClient cost ~3 ms of CPU a request on this machine (so the load generator, not the
    server, set the pace at a few hundred requests a second); this costs ~0.04 ms. Answers must carry
    Content-Length (the API's do)."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        host, port = url.split("://", 1)[1].rstrip("/").split(":")
        self.host, self.port = host, int(port)
        fields = {"Host": f"{host}:{port}", "Content-Type": "application/json", **headers}
        self.head = "".join(f"{k}: {v}\r\n" for k, v in fields.items())
        self.idle: list[tuple[float, asyncio.StreamReader, asyncio.StreamWriter]] = []  # (last used, ...)

    async def post(self, path: str, body) -> tuple[int, bytes]:
        data = orjson.dumps(body)
        request = f"POST {path} HTTP/1.1\r\n{self.head}Content-Length: {len(data)}\r\n\r\n".encode() + data
        while self.idle:
            used, reader, writer = self.idle.pop()
            if time.monotonic() - used < IDLE_S:
                try:
                    return await self._exchange(reader, writer, request)
                except (asyncio.IncompleteReadError, ConnectionResetError) as exc:
                    if getattr(exc, "partial", b""):
                        raise
                    # closed by the server while idle before it read the request (its keep-alive
                    # timeout): the request never arrived, send it on another connection
            else:
                writer.close()
        return await self._exchange(*await asyncio.open_connection(self.host, self.port), request)

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bytes]:
        try:
            writer.write(request)
            head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)).decode("latin-1").split("\r\n")
            status, length, close = int(head[0].split()[1]), 0, False
            for line in head[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "connection" and "close" in value.lower():
                    close = True
                elif name == "transfer-encoding":
                    raise ConnectionError(f"an answer without Content-Length ({value.strip()})")
            payload = await asyncio.wait_for(reader.readexactly(length), 60)
        except BaseException:
            writer.close()
            raise
        if close:
            writer.close()
        else:
            self.idle.append((time.monotonic(), reader, writer))
        return status, payload

    def close(self) -> None:
        for _, _, writer in self.idle:
            writer.close()


class Load:
    def __init__(self, a: dict) -> None:
        self.a = a
        self.urls: list[str] = a["urls"]
        self.rng = random.Random(a.get("seed", 5))
        n = int(a["rate"] * a["seconds"]) + 1
        self.sent = [0.0] * n
        self.answered = [0.0] * n
        self.status = [-1] * n  # -1: not sent; 0: no answer (connection refused, timeout)
        self.posted = 0
        self.steps: Counter = Counter()  # (action, status)
        self.officer: Counter = Counter()  # (what, status)
        self.samples: list[str] = []  # the first refusals, for the report
        self.moves: list[tuple[float, int, int, tuple[str, ...]]] = []  # heap: (due, seq, event id, steps left)
        self._seq = itertools.count()
        self.in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        self.behind = 0  # reports sent later than due because MAX_IN_FLIGHT were waiting

    def note(self, what: str) -> None:
        if len(self.samples) < 20:
            self.samples.append(what[:300])

    # -- reports --------------------------------------------------------------------------------
    async def post(self, client: RawClient, ks: list[int]) -> None:
        a = self.a
        bodies = [event_body(self.rng, f"{a['prefix']}-{k}", a["items"], a["weights"], a["grids"]) for k in ks]
        async with self.in_flight:
            t = time.time()
            for k in ks:
                self.sent[k] = t
            try:
                status, payload = await client.post("/api/v1/events", bodies[0] if len(ks) == 1 else bodies)
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError) as exc:
                status, payload = 0, None
                self.note(f"POST /api/v1/events: {exc!r}")
            done = time.time()
        for k in ks:
            self.answered[k], self.status[k] = done, status
        if payload is None:
            return
        if status not in (200, 201):
            self.note(f"POST /api/v1/events: {status} {payload[:200]!r}")
            return
        body = orjson.loads(payload)
        for e in body.get("events", [body]):
            if e.get("created", True) and self.rng.random() < a["moved"]:
                steps = (RETURNED if self.rng.random() < RETURN_SHARE else ()) + HAPPY
                steps += ("rate",) if self.rng.random() < RATE_SHARE else ()
                heapq.heappush(self.moves, (done + self.rng.uniform(*STEP_GAP_S), next(self._seq), e["id"], steps))

    async def report(self, clients: list[RawClient], t0: float, end: float) -> None:
        batch, rate = self.a["batch"], self.a["rate"]
        tasks, k = set(), 0
        while time.time() < end and k < len(self.sent):
            due = min(len(self.sent), int((time.time() - t0) * rate) + 1)
            while k + batch <= due:
                ks = list(range(k, min(k + batch, len(self.sent))))
                k += len(ks)
                if self.in_flight.locked():
                    self.behind += len(ks)
                task = asyncio.create_task(self.post(clients[(k // batch) % len(clients)], ks))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.sleep(0.005)
        self.posted = k
        if tasks:
            await asyncio.wait(tasks)

    # -- steps ----------------------------------------------------------------------------------
    async def step(self, client: RawClient, event_id: int, steps: tuple[str, ...]) -> None:
        action = steps[0]
        body = {"action": action, **step_body(self.rng, action, DEFAULT_PROFILE)}
        async with self.in_flight:
            try:
                status, payload = await client.post(f"/api/v1/events/{event_id}/transitions", body)
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError) as exc:
                status, payload = 0, None
                self.note(f"transition {action}: {exc!r}")
        self.steps[(action, status)] += 1
        if status != 200:
            if payload is not None:
                self.note(f"transition {action} of {event_id}: {status} {payload[:200]!r}")
            return
        if len(steps) > 1:
            heapq.heappush(self.moves, (time.time() + self.rng.uniform(*STEP_GAP_S), next(self._seq), event_id, steps[1:]))

    async def move(self, clients: list[RawClient], end: float) -> None:
        tasks = set()
        while time.time() < end:
            now = time.time()
            while self.moves and self.moves[0][0] <= now:
                _, seq, event_id, steps = heapq.heappop(self.moves)
                task = asyncio.create_task(self.step(clients[seq % len(clients)], event_id, steps))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.sleep(0.01)
        if tasks:
            await asyncio.wait(tasks)

    # -- duty officers --------------------------------------------------------------------------
    async def officer_desk(self, i: int, username: str, password: str, end: float) -> None:
        """Signs in through the login form, then every OFFICER_EVERY_S reads the open alerts and
        acknowledges its share of them (by id) once they are ACK_AFTER_S old, and resolves those it
        acknowledged RESOLVE_AFTER_S later."""
        n = len(self.a["officers"])
        async with httpx.AsyncClient(base_url=self.urls[i % len(self.urls)], timeout=30) as web:
            form = await web.get("/login?next=/duty")
            token = form.text.split('name="csrf" value="')[1].split('"')[0]
            r = await web.post("/login", data={"username": username, "password": password, "csrf": token, "next": "/duty"})
            self.officer[("sign in", r.status_code)] += 1
            if r.status_code != 303:
                self.note(f"officer {username} sign in: {r.status_code} {r.text[:200]}")
                return
            web.headers["X-CSRFToken"] = web.cookies.get("_csrf_token") or ""
            mine: dict[int, float] = {}  # acknowledged by this officer -> when
            while time.time() < end:
                await asyncio.sleep(OFFICER_EVERY_S)
                try:
                    r = await web.get("/api/v1/alerts", params={"status": "open"})
                except httpx.HTTPError as exc:
                    self.officer[("list", 0)] += 1
                    self.note(f"officer list: {exc!r}")
                    continue
                self.officer[("list", r.status_code)] += 1
                if r.status_code != 200:
                    self.note(f"officer list: {r.status_code} {r.text[:200]}")
                    continue
                now = time.time()
                for alert in r.json()["alerts"]:
                    if alert["id"] % n != i or now - _epoch(alert["raised_at"]) < ACK_AFTER_S:
                        continue
                    await self._act(web, "acknowledge", alert["id"], "已派员处置")
                    mine[alert["id"]] = now
                for alert_id, at in list(mine.items()):
                    if now - at >= RESOLVE_AFTER_S:
                        await self._act(web, "resolve", alert_id, "已处置完毕")
                        del mine[alert_id]

    async def _act(self, web: httpx.AsyncClient, what: str, alert_id: int, comment: str) -> None:
        try:
            r = await web.post(f"/api/v1/alerts/{alert_id}/{what}", json={"comment": comment})
            status = r.status_code
        except httpx.HTTPError as exc:
            status, r = 0, None
            self.note(f"officer {what}: {exc!r}")
        self.officer[(what, status)] += 1
        if r is not None and status != 200:
            self.note(f"officer {what} {alert_id}: {status} {r.text[:200]}")

    # -- the run --------------------------------------------------------------------------------
    async def run(self) -> None:
        a = self.a
        clients = [RawClient(u, {"X-API-Key": a["api_key"]}) for u in self.urls]
        t0 = self.started = float(Path(self.a["out"] + ".started").read_text())
        end = t0 + a["seconds"]
        try:
            await asyncio.gather(self.report(clients, t0, end), self.move(clients, end),
                                 *(self.officer_desk(i, u, p, end) for i, (u, p) in enumerate(a["officers"])))
        finally:
            for c in clients:
                c.close()


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


def main(args_path: str, out: str) -> None:
    import numpy as np

    load = Load({**json.loads(Path(args_path).read_text()), "out": out})
    Path(out + ".started").write_text(str(time.time()))  # the run's clock starts here
    asyncio.run(load.run())
    n = load.posted
    meta = {"steps": [[a, s, c] for (a, s), c in sorted(load.steps.items())],
            "officer": [[w, s, c] for (w, s), c in sorted(load.officer.items())],
            "samples": load.samples, "behind": load.behind, "moves_left": len(load.moves), "started": load.started,
            "ended": time.time()}
    with open(out, "wb") as f:
        np.savez(f, sent=np.array(load.sent[:n]), answered=np.array(load.answered[:n]),
                 status=np.array(load.status[:n], dtype=np.int16), meta=np.array(json.dumps(meta)))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
