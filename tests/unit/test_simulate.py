"""The simulator's generators and its use of the HTTP contract, without a server.

`FakeServer` is an httpx.MockTransport standing in for the HTTP API only: it checks every request against
the contract (fields, channels, urgencies, ISO times with a timezone, never in the future, legal
transitions in order; mediation only of disputes, rung by rung, never failed at the judicial route;
whistles by the centre to known departments, report-ins only by departments a whistle summoned; every
step of a case at or after the one before) and records what it saw.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections import Counter
from datetime import datetime, timedelta

import httpx
import pytest

from bigscreen.configuration.loading import load_config
from bigscreen.domain.lifecycle import (
    ACTIONS,
    MEDIATION_OUTCOMES,
    MEDIATION_ROLES,
    MEDIATION_RUNGS,
    REPORT_IN_ROLES,
    WHISTLE_ROLES,
)
from bigscreen.process.settings import REPO_CONFIG_DIR
from bigscreen.simulation import events as ev
from bigscreen.simulation import sidesteps, simulator
from bigscreen.simulation.api import CityApi
from bigscreen.simulation.life import HOUR, plan_life
from bigscreen.simulation.simulator import Simulator
from bigscreen.simulation.vocab import ROADS, profile_for

KEY = "test-key"
CHANNELS = {"grid_app", "hotline_12345", "citizen_snap", "wechat_group", "city_platform", "video", "sensor"}
URGENCIES = {"normal", "urgent", "critical"}
LEVELS = {"grid", "community", "street", "district", "city"}
MOVES = {  # action: (legal sources, target)
    "dispatch": ({"reported", "returned"}, "dispatched"),
    "redispatch": ({"dispatched", "accepted", "returned"}, "dispatched"),
    "return": ({"dispatched", "accepted"}, "returned"),
    "accept": ({"dispatched"}, "accepted"),
    "start": ({"accepted"}, "in_progress"),
    "handle": ({"accepted", "in_progress"}, "handled"),
    "reopen": ({"handled"}, "in_progress"),
    "verify": ({"handled"}, "verified"),
    "close": ({"verified"}, "closed"),
    "rate": ({"closed"}, "rated"),
}
EVENT_FIELDS = {"source_id", "channel", "item", "urgency", "description", "address", "lat", "lon", "grid",
                "photo_urls", "reporter_name", "reporter_phone", "reported_at"}
# category code, name, weight expected from the simulator's table, limits (h) normal/urgent/critical, items
CATEGORIES = [
    ("SR", "市容环卫", 20, (24, 8, 2), ["楼道堆放杂物", "占道经营", "暴露垃圾", "垃圾桶满溢", "乱贴乱画小广告"]),
    ("MS", "民生问题", 16, (72, 24, 2), ["停水及供水异常", "电梯停运待修", "楼道照明损坏", "物业服务不到位"]),
    ("AQ", "安全隐患", 14, (48, 8, 1), ["燃气泄漏", "房屋墙体开裂", "高空坠物隐患", "广告牌招牌松动"]),
    ("SS", "公共设施", 10, (72, 24, 2), ["井盖缺失", "路灯不亮", "道路破损坑洼", "健身器材损坏"]),
    ("MD", "矛盾调解", 9, (168, 24, 2), ["邻里纠纷", "物业纠纷", "劳资纠纷"]),
    ("HB", "环境保护", 8, (72, 12, 2), ["污水直排", "餐饮油烟扰民", "社会生活噪声扰民"]),
    ("JT", "交通安全", 6, (48, 8, 1), ["机动车违章停车", "交通信号灯故障", "共享单车乱停乱放"]),
    ("XF", "消防安全", 2, (24, 4, 0.5), ["火情火灾", "消防通道堵塞", "电动车楼道充电"]),
    ("YJ", "应急防汛", 1, (24, 4, 0.5), ["道路积水内涝", "树木倒伏"]),
    ("QQ", "其他事项", 3, (72, 24, 2), ["其他问题反映"]),  # unknown code: the default weight
]
DISPUTES = {"MD"}  # categories with `dispute: true`
WINDOWS = {kind: timedelta(minutes=w.report_within_minutes) for kind, w in load_config(REPO_CONFIG_DIR).city.whistles.items()}
CLOSED = ("closed", "rated")


def iso_time(value, where: str, problems: list, now: datetime) -> datetime | None:
    try:
        t = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        problems.append(f"{where}: not ISO 8601: {value!r}")
        return None
    if t.tzinfo is None:
        problems.append(f"{where}: no timezone: {value!r}")
        return None
    if t > now:
        problems.append(f"{where}: in the future: {value!r}")
    return t


class FakeServer:
    def __init__(self, *, streets: int = 6, communities_per_street: int = 3, grids_per_community: int = 5):
        self.areas = {"city": [{"code": "370500", "name": "东营市", "level": "city", "level_name": "市", "parent": None,
                                "lat": 37.46, "lon": 118.67, "kind": "city"}]}
        self.areas["district"] = [{"code": f"37050{d}", "name": n, "level": "district", "level_name": "区县",
                                   "parent": "370500", "lat": 37.4 + d / 10, "lon": 118.5, "kind": "district"}
                                  for d, n in ((2, "东营区"), (3, "河口区"))]
        self.areas["street"], self.areas["community"], self.areas["grid"] = [], [], []
        for s in range(streets):
            district = self.areas["district"][s % 2]["code"]
            scode = f"{district}{s:03d}"
            self.areas["street"].append({"code": scode, "name": f"街道{s}", "level": "street", "level_name": "街道",
                                         "parent": district, "lat": 37.4, "lon": 118.6, "kind": "street"})
            for c in range(communities_per_street):
                ccode = f"{scode}{c:03d}"
                self.areas["community"].append({"code": ccode, "name": f"{'解放中路黄河胜利'[c % 4 * 2:c % 4 * 2 + 2]}{s}{c}社区",
                                                "level": "community", "level_name": "社区", "parent": scode,
                                                "lat": 37.4, "lon": 118.6, "kind": "urban"})
                for g in range(grids_per_community):
                    self.areas["grid"].append({"code": f"{ccode}{g:03d}", "name": f"第{g + 1}网格", "level": "grid",
                                               "level_name": "网格", "parent": ccode, "lat": 37.4 + s / 100 + g / 1000,
                                               "lon": 118.6 + c / 100, "kind": "special" if g == 4 else "base"})
        self.grids = {g["code"]: g for g in self.areas["grid"]}
        self.services, self.limits = [], {}
        for code, name, _, limits, items in CATEGORIES:
            for i, item in enumerate(items, 1):
                self.services.append({"service_code": f"{code}{i:02d}", "service_name": item, "group": name, "keywords": code,
                                      "metadata": False, "type": "realtime", "description": item})
                self.limits[f"{code}{i:02d}"] = dict(zip(("normal", "urgent", "critical"), limits))
        self.departments = ["cg", "zj", "sw", "gaj"]
        self.events: dict[int, dict] = {}
        self.whistles: dict[int, dict] = {}
        self.by_source: dict[str, int] = {}
        self.requests: list[tuple[str, str, object]] = []
        self.problems: list[str] = []
        self.down = False
        self.reject_points_of: set[str] = set()  # grids whose points the server says lie outside the city
        self.lock = threading.Lock()

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle))

    # -- the contract ------------------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        with self.lock:
            return self._handle(request)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        path = request.url.path
        self.requests.append((request.method, path, body))
        if request.headers.get("X-API-Key") != KEY:
            return httpx.Response(401, json={"detail": "bad key"})
        if request.method == "GET" and path == "/api/v1/areas":
            level = request.url.params.get("level", "district")
            return httpx.Response(200, json=self.areas[level]) if level in self.areas else httpx.Response(422, json={"detail": []})
        if request.method == "GET" and path == "/open311/v2/services.json":
            return httpx.Response(200, json=self.services)
        if request.method == "POST" and path == "/api/v1/events":
            return self._post_events(body)
        m = re.fullmatch(r"/api/v1/events/(\d+)(/transitions|/mediation|/history|/whistles(?:/(\d+)/reports)?)?", path)
        if m and int(m.group(1)) in self.events:
            e, route = self.events[int(m.group(1))], m.group(2)
            if request.method == "GET" and not route:
                return httpx.Response(200, json=self._out(e))
            if request.method == "GET" and route == "/history":
                return httpx.Response(200, json={"event_id": e["id"], "steps": [self._step_out(e, step) for step in e["steps"]]})
            if request.method == "GET" and route == "/whistles":
                return httpx.Response(200, json={"event_id": e["id"], "whistles": [
                    {"id": w["id"], "kind": w["kind"], "at": w["at"].isoformat()} for w in self.whistles.values() if w["event"] == e["id"]]})
            if request.method == "POST" and route == "/transitions":
                return self._transition(e, body)
            if request.method == "POST" and route == "/mediation":
                return self._mediate(e, body)
            if request.method == "POST" and route == "/whistles":
                return self._whistle(e, body)
            if request.method == "POST" and m.group(3):
                return self._report_in(e, int(m.group(3)), body)
        return httpx.Response(404, json={"detail": "not found"})

    def _check_event(self, b, loc: list, now: datetime) -> list[dict]:
        errors, problems = [], []

        def bad(name, msg):
            errors.append({"loc": loc + [name], "msg": msg, "type": "value_error"})
            problems.append(f"{b.get('source_id')}.{name}: {msg}")

        if not isinstance(b, dict):
            return [{"loc": loc, "msg": "not an object", "type": "type_error"}]
        for name in set(b) - EVENT_FIELDS:
            bad(name, "unknown field")
        if not isinstance(b.get("source_id"), str) or not b["source_id"]:
            bad("source_id", "required")
        if b.get("channel") not in CHANNELS:
            bad("channel", f"bad channel {b.get('channel')!r}")
        if b.get("item") not in self.limits:
            bad("item", f"unknown item {b.get('item')!r}")
        if b.get("urgency") not in URGENCIES:
            bad("urgency", f"bad urgency {b.get('urgency')!r}")
        if not isinstance(b.get("description"), str) or not 1 <= len(b["description"]) <= 2000:
            bad("description", "1..2000 characters")
        if ("lat" in b) != ("lon" in b):
            bad("lat", "lat and lon together")
        if "grid" in b and b["grid"] not in self.grids:
            bad("grid", "unknown grid")
        if "grid" not in b and "lat" not in b:
            bad("grid", "grid or point required")
        if "lat" in b and b.get("grid") in self.reject_points_of:
            bad("lat", "outside the city's grids")
        photos = b.get("photo_urls", [])
        if not isinstance(photos, list) or len(photos) > 9 or not all(isinstance(p, str) and p.startswith("/") for p in photos):
            bad("photo_urls", "at most 9 relative URLs")
        if "reported_at" in b:
            iso_time(b["reported_at"], f"{b.get('source_id')}.reported_at", problems, now)
        self.problems += [p for p in problems if "outside" not in p]
        return errors

    def _post_events(self, body) -> httpx.Response:
        now = datetime.now().astimezone()
        batch = isinstance(body, list)
        items = body if batch else [body]
        if batch and len(items) > 1000:
            return httpx.Response(413, json={"detail": "too many"})
        errors = [e for i, b in enumerate(items) for e in self._check_event(b, ["body", i] if batch else ["body"], now)]
        if errors:
            return httpx.Response(422, json={"detail": errors})
        outs, created = [], 0
        for b in items:
            if b["source_id"] in self.by_source:
                outs.append(self._out(self.events[self.by_source[b["source_id"]]], created=False))
                continue
            reported = datetime.fromisoformat(b["reported_at"]) if "reported_at" in b else now
            eid = len(self.events) + 1
            e = {"id": eid, "body": b, "status": "dispatched", "reported": reported, "rung": "community", "settled": None,
                 "deadline": reported + timedelta(hours=self.limits[b["item"]][b["urgency"]]),
                 "department": self.departments[eid % len(self.departments)],
                 "dispatched_to": self.departments[eid % len(self.departments)],
                 "grid": b.get("grid"), "steps": [("dispatch", reported + timedelta(seconds=1))]}
            self.events[eid] = e
            self.by_source[b["source_id"]] = eid
            outs.append(self._out(e, created=True))
            created += 1
        if batch:
            return httpx.Response(200, json={"events": outs, "created": created, "existing": len(items) - created})
        return httpx.Response(201 if created else 200, json=outs[0])

    @staticmethod
    def _step_out(e: dict, step: tuple) -> dict:
        if len(step) == 2:  # the automatic dispatch
            return {"action": step[0], "at": step[1].isoformat(), "role": "system", "department": e["dispatched_to"]}
        return {"action": step[0], "at": step[1].isoformat(), "role": step[2].get("role"),
                "department": step[2].get("department")}

    def _out(self, e: dict, created: bool | None = None) -> dict:
        return {"id": e["id"], "source": "sim", "source_id": e["body"]["source_id"], "status": e["status"],
                "department": e["department"], "grid": e["grid"], "deadline": e["deadline"].isoformat(),
                "created": created}

    def _transition(self, e: dict, body: dict) -> httpx.Response:
        action = body.get("action")
        where = f"event {e['id']} {action}"
        for name in set(body) - {"action", "role", "actor", "at", "note", "department", "photo_url", "resolved_level", "rating"}:
            self.problems.append(f"{where}: unknown field {name}")
        if action not in MOVES:
            self.problems.append(f"{where}: unknown action")
            return httpx.Response(422, json={"detail": [{"loc": ["body", "action"], "msg": "unknown", "type": "value_error"}]})
        if body.get("role") not in ACTIONS[action].roles:
            self.problems.append(f"{where}: the role {body.get('role')!r} may not take this step")
        sources, target = MOVES[action]
        if e["status"] not in sources:
            allowed = [a for a, (s, _) in MOVES.items() if e["status"] in s]
            return httpx.Response(409, json={"detail": {"status": e["status"], "allowed": allowed}})
        missing = {"verify": "photo_url", "close": "resolved_level", "rate": "rating", "redispatch": "department"}.get(action)
        if missing and body.get(missing) is None:
            self.problems.append(f"{where}: {missing} missing")
        if action == "close" and body.get("resolved_level") not in LEVELS:
            self.problems.append(f"{where}: bad resolved_level {body.get('resolved_level')!r}")
        if action == "rate" and body.get("rating") not in (1, 2, 3):
            self.problems.append(f"{where}: bad rating {body.get('rating')!r}")
        if action == "redispatch" and body.get("department") not in self.departments:
            self.problems.append(f"{where}: unknown department {body.get('department')!r}")
        at = self._at(e, body, where)
        e["status"] = target
        e["steps"].append((action, at, body))
        return httpx.Response(200, json=self._out(e))

    def _at(self, e: dict, body: dict, where: str) -> datetime:
        """The step's time (the server's now without `at`); every step of a case at or after the one before."""
        now = datetime.now().astimezone()
        at = (iso_time(body["at"], where, self.problems, now) or now) if "at" in body else now
        if at < e["steps"][-1][1]:
            self.problems.append(f"{where}: at {at} before the previous step {e['steps'][-1][:2]}")
        return at

    def _fields(self, body, allowed: set[str], required: set[str], where: str) -> bool:
        if not isinstance(body, dict):
            self.problems.append(f"{where}: body is not an object")
            return False
        self.problems += [f"{where}: unknown field {name}" for name in set(body) - allowed]
        self.problems += [f"{where}: {name} missing" for name in required - set(body)]
        return set(body) <= allowed and required <= set(body)

    def _refused(self, status: int, where: str, problem: str) -> httpx.Response:
        self.problems.append(f"{where}: {problem}")
        return httpx.Response(status, json={"detail": problem})

    # The simulator always names the rung, so a repeat is recognised and a moved dispute answers 409.
    def _mediate(self, e: dict, body) -> httpx.Response:
        where = f"event {e['id']} mediation"
        if not self._fields(body, {"outcome", "rung", "role", "actor", "note", "at"}, {"outcome", "rung", "role"}, where):
            return httpx.Response(422, json={"detail": "fields"})
        if body["outcome"] not in MEDIATION_OUTCOMES:
            return self._refused(422, where, f"bad outcome {body['outcome']!r}")
        if body["role"] not in MEDIATION_ROLES:
            return self._refused(403, where, f"the role {body['role']!r} may not mediate")
        if e["body"]["item"][:2] not in DISPUTES:
            return self._refused(409, where, "not a dispute")
        if e["status"] in CLOSED or e["settled"]:
            return httpx.Response(409, json={"detail": {"status": e["status"], "outcome": e["settled"]}})
        if body["rung"] != e["rung"]:
            return self._refused(409, where, f"ladder order: sent rung {body['rung']!r}, the dispute is at {e['rung']!r}")
        if body["outcome"] == "failed" and e["rung"] == MEDIATION_RUNGS[-1]:
            return self._refused(422, where, "failed at the judicial route")
        if body["rung"] != MEDIATION_RUNGS[0] and body["role"] != "centre":  # a grid worker mediates in the community only
            self.problems.append(f"{where}: a {body['role']!r} on the {body['rung']} rung")
        at = self._at(e, body, where)
        if body["outcome"] == "failed":
            e["rung"] = MEDIATION_RUNGS[MEDIATION_RUNGS.index(e["rung"]) + 1]
        else:
            e["settled"] = body["outcome"]
        e["steps"].append(("mediate", at, body))
        return httpx.Response(200, json={"event_id": e["id"], "dispute": True, "rung": e["rung"], "outcome": e["settled"]})

    def _whistle(self, e: dict, body) -> httpx.Response:
        where = f"event {e['id']} whistle"
        if not self._fields(body, {"kind", "departments", "role", "actor", "note", "at"}, {"kind", "departments", "role"}, where):
            return httpx.Response(422, json={"detail": "fields"})
        departments = body["departments"]
        if body["kind"] not in WINDOWS:
            return self._refused(422, where, f"unknown kind {body['kind']!r}")
        if not isinstance(departments, list) or not 1 <= len(departments) <= 10 or len(set(departments)) != len(departments):
            return self._refused(422, where, f"departments {departments!r}: 1 to 10, each once")
        if unknown := [d for d in departments if d not in self.departments]:
            return self._refused(422, where, f"unknown departments {unknown}")
        if body["role"] not in WHISTLE_ROLES:
            return self._refused(403, where, f"the role {body['role']!r} may not whistle")
        if e["status"] in CLOSED:
            return httpx.Response(409, json={"detail": {"status": e["status"]}})
        at = self._at(e, body, where)
        if at < e["reported"]:
            self.problems.append(f"{where}: at {at} before the report")
        wid = len(self.whistles) + 1
        self.whistles[wid] = {"id": wid, "event": e["id"], "kind": body["kind"], "at": at, "report_by": at + WINDOWS[body["kind"]],
                              "calls": dict.fromkeys(departments)}
        e["steps"].append(("whistle", at, body))
        return httpx.Response(201, json={"id": wid, "event_id": e["id"], "kind": body["kind"], "created": True,
                                         "report_by": self.whistles[wid]["report_by"].isoformat(),
                                         "departments": [{"code": d, "state": "waiting"} for d in departments]})

    def _report_in(self, e: dict, wid: int, body) -> httpx.Response:
        where = f"event {e['id']} whistle {wid} report-in"
        if not self._fields(body, {"department", "role", "actor", "note", "at"}, {"department", "role"}, where):
            return httpx.Response(422, json={"detail": "fields"})
        w = self.whistles.get(wid)
        if w is None or w["event"] != e["id"]:
            return self._refused(404, where, "no such whistle on this case")
        if body["role"] not in REPORT_IN_ROLES:
            return self._refused(403, where, f"the role {body['role']!r} may not report in")
        if body["department"] not in w["calls"]:
            return self._refused(422, where, f"{body['department']!r} was not summoned")
        if w["calls"][body["department"]] is None:  # again: the first report stands
            at = self._at(e, body, where)
            if at < w["at"]:
                self.problems.append(f"{where}: at {at} before the whistle")
            w["calls"][body["department"]] = at
            e["steps"].append(("report_in", at, body))
        return httpx.Response(200, json={"whistle_id": wid, "code": body["department"], "created": True})


@pytest.fixture
def server():
    return FakeServer()


@pytest.fixture
def steady(monkeypatch):
    """Live tests run at any hour: take the day-night rhythm out of the arrival rate."""
    monkeypatch.setattr(simulator, "rhythm", lambda t: 1.0)


@pytest.fixture
def sim(server):
    s = Simulator("http://city.test", KEY, seed=7, client=server.client(), rate=2.0)
    s.load_catalogue()
    return s


@pytest.fixture(scope="module")
def backfilled():
    """A week of history sent once through a fresh fake server, for the tests that read what it left."""
    server = FakeServer()
    with Simulator("http://city.test", KEY, seed=7, client=server.client(), rate=2.0) as sim:
        sim.load_catalogue()
        created = sim.backfill(days=7, per_day=300, progress=False)
    return server, sim, created


def bodies(sim: Simulator, n: int) -> list[dict]:
    now = time.time()
    return [sim.factory.make(t) for t in ev.sample_times(sim.rng, now - 7 * 86400, now - 60, n)]


def share(counter: Counter, key) -> float:
    return counter[key] / sum(counter.values())


# -- generators ---------------------------------------------------------------------------------------
def test_event_bodies_follow_the_contract(server, sim):
    made = bodies(sim, 3000)
    now = datetime.now().astimezone()
    for i, b in enumerate(made):
        assert server._check_event(b, ["body", i], now) == [], b
    assert server.problems == []
    assert len({b["source_id"] for b in made}) == len(made)
    for b in made:
        assert b["grid"] in server.grids and b["reported_at"].endswith("+08:00")
        assert abs(b["lat"] - server.grids[b["grid"]]["lat"]) < 0.001
        has_reporter = "reporter_name" in b or "reporter_phone" in b
        assert not has_reporter or b["channel"] in ("hotline_12345", "citizen_snap")
        if "reporter_phone" in b:
            assert re.fullmatch(r"1[3-9]\d{9}", b["reporter_phone"])
        assert all(re.fullmatch(r"/media/demo/[a-z]+-\d\d\.jpg", p) for p in b.get("photo_urls", []))
        item = next(s["service_name"] for s in server.services if s["service_code"] == b["item"])
        assert item in b["description"] and b["description"].endswith("。")
    assert all("reporter_name" in b for b in made if b["channel"] == "hotline_12345")
    assert not any("photo_urls" in b for b in made if b["channel"] in ("hotline_12345", "sensor"))


def test_descriptions_read_like_a_log_and_name_a_place(sim):
    made = bodies(sim, 500)
    communities = {g.community for g in sim.catalogue.grids}
    named = [b for b in made if any(c in b["description"] for c in communities) or any(r in b["description"] for r in ROADS)]
    assert len(named) / len(made) > 0.8
    stairs = [b["description"] for b in made if "楼道堆放杂物" in b["description"]]
    assert stairs and all(re.search(r"社区\d+号楼(\d单元)?楼道堆放杂物", d) for d in stairs)
    assert all(b["address"].startswith(("东营区", "河口区")) for b in made)


def test_channel_urgency_and_category_mix_is_near_the_targets(sim):
    made = bodies(sim, 20000)
    channels = Counter(b["channel"] for b in made)
    for channel, target in (("grid_app", 0.55), ("hotline_12345", 0.20), ("citizen_snap", 0.15), ("wechat_group", 0.03)):
        assert abs(share(channels, channel) - target) < 0.02, (channel, share(channels, channel))
    assert 0.05 < share(channels, "sensor") + share(channels, "video") < 0.09
    urgency = Counter(b["urgency"] for b in made)
    assert 0.82 < share(urgency, "normal") < 0.88 and 0.11 < share(urgency, "urgent") < 0.16
    assert 0.01 < share(urgency, "critical") < 0.035

    category = Counter(sim._items[b["item"]].category for b in made if b["channel"] not in ("sensor", "video"))
    expected = sim.catalogue.category_shares()
    weights = {code: w for code, _, w, _, _ in CATEGORIES}
    total = sum(weights.values())
    for code, w in weights.items():
        assert expected[code] == pytest.approx(w / total)
        assert abs(share(category, code) - expected[code]) < max(0.012, 0.15 * expected[code]), code
    assert share(category, "SR") > 8 * share(category, "XF") and share(category, "YJ") < 0.02
    assert profile_for("QQ", "其他事项").key == "*" and profile_for("ZZ", "消防安全").key == "XF"
    # Sensors and cameras mostly report what they can sense or see.
    sensed = [sim._items[b["item"]].name for b in made if b["channel"] == "sensor"]
    assert sum(any(w in n for w in ("井盖", "积水", "燃气泄漏", "火情", "噪声", "污水")) for n in sensed) / len(sensed) > 0.7


def test_hotspots_get_several_times_more_events(sim):
    made = bodies(sim, 20000)
    per_grid = Counter(b["grid"] for b in made)
    cat = sim.catalogue
    hot = [g for g in cat.grids if g.street_code in cat.hotspot_streets and "special" not in g.kind]
    cold = [g for g in cat.grids if g.street_code not in cat.hotspot_streets
            and g.community_code not in cat.hotspot_communities and "special" not in g.kind]
    assert hot and cold and cat.hotspot_communities
    mean = lambda gs: sum(per_grid[g.code] for g in gs) / len(gs)  # noqa: E731
    assert mean(hot) > 2.5 * mean(cold)


def test_reports_follow_the_day_night_rhythm():
    rng = random.Random(1)
    now = time.time()
    times = ev.sample_times(rng, now - 7 * 86400, now, 20000)
    assert times == sorted(times) and now - 7 * 86400 <= times[0] and times[-1] <= now
    hours = Counter(datetime.fromtimestamp(t, ev.SHANGHAI).hour for t in times)
    day = sum(hours[h] for h in range(8, 20))
    assert day / len(times) > 0.7
    assert hours[10] > 6 * hours[3]


def test_life_plans_fit_their_time_limits():
    rng = random.Random(3)
    profile = profile_for("SR")
    now = 1796112000.0  # a fixed instant (16:00 in Shanghai): the shares move with the time of day by ±0.1 point
    closed = on_time = overdue_open = 0
    n = 30000
    reported = ev.sample_times(rng, now - 7 * 86400, now - 60, n)
    for t in reported:
        urgency = rng.choices(["normal", "urgent", "critical"], [85, 13, 2])[0]
        limit = rng.choice({"normal": (24, 48, 72, 168), "urgent": (4, 8, 12, 24), "critical": (0.5, 1, 2)}[urgency]) * HOUR
        steps = plan_life(rng, urgency=urgency, limit_s=limit, profile=profile, channel="grid_app",
                          department="a", departments=["a", "b"])
        offsets = [s.offset_s for s in steps]
        assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets) and offsets[0] >= 2
        close = next(s.offset_s for s in steps if s.action == "close")
        if t + close <= now:
            closed += 1
            on_time += close <= limit
        elif t + limit < now:
            overdue_open += 1
    assert 0.93 <= closed / n <= 0.99
    assert 0.96 <= on_time / closed <= 0.995
    assert 0.008 <= overdue_open / n <= 0.05, "about 1% of cases are left open past their limit"


def mediations(steps) -> list[tuple[str, str]]:
    return [(s.body["rung"], s.body["outcome"]) for s in steps if s.action == "mediate"]


def test_disputes_climb_the_ladder_with_the_published_mix():
    rng = random.Random(5)
    profile = profile_for("MD")
    endings, levels = Counter(), Counter()
    n = 20000
    for _ in range(n):
        urgency = rng.choices(["normal", "urgent", "critical"], [85, 13, 2])[0]
        life = plan_life(rng, urgency=urgency, limit_s={"normal": 168, "urgent": 24, "critical": 2}[urgency] * HOUR,
                         profile=profile, department="a", departments=["a", "b"])
        steps = sidesteps.with_mediation(rng, life)
        assert [s.action for s in steps if s.action != "mediate"] == [s.action for s in life]
        offsets = [s.offset_s for s in steps]
        assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets) and offsets[0] >= 2
        actions = [s.action for s in steps]
        first, last = actions.index("mediate"), len(actions) - 1 - actions[::-1].index("mediate")
        assert actions[first - 1] in ("accept", "start") and actions[last + 1] == "handle"
        ladder = mediations(steps)
        rung, outcome = ladder[-1]
        assert ladder == sidesteps.ladder(rung, outcome) and outcome != "failed"
        assert [r for r, _ in ladder] == list(MEDIATION_RUNGS[:len(ladder)])
        assert all(s.body["role"] == "centre" for s in steps if s.action == "mediate" and s.body["rung"] != "community")
        endings[rung, outcome] += 1
        levels[rung, next(s.body["resolved_level"] for s in steps if s.action == "close")] += 1
    mediated = sum(v for (_, o), v in endings.items() if o == "mediated")
    assert 0.982 < mediated / n < 0.992  # Kongtong: 98.68%
    assert 0.89 < endings["community", "mediated"] / n < 0.91  # 90% first resolved inside the grid
    assert endings["senior", "mediated"] > endings["lawyer", "mediated"] > endings["judicial", "mediated"] > 0
    assert {r for (r, o) in endings if o == "referred"} == {"lawyer", "judicial"}
    assert {lvl for (r, lvl) in levels if r == "community"} == {"grid", "community"}
    assert {lvl for (r, lvl) in levels if r in ("lawyer", "judicial")} == {"street", "district"}


def test_whistles_follow_urgency_and_departments_mostly_report_in_on_time(sim):
    rng = random.Random(6)
    items = {i.code: i for i in sim.catalogue.items}
    assert sidesteps.whistle_kind(rng, "normal", items["AQ01"]) is None
    kinds = {(u, code): {sidesteps.whistle_kind(rng, u, items[code]) for _ in range(300)}
             for u in ("urgent", "critical") for code in ("AQ01", "XF01", "MS01", "SR01")}
    assert kinds["critical", "AQ01"] == kinds["critical", "XF01"] == {"emergency", None}
    assert kinds["urgent", "AQ01"] == {"assembly", None} and kinds["urgent", "MS01"] == {"livelihood", None}
    assert kinds["critical", "SR01"] == kinds["urgent", "SR01"] == {None}
    assert sidesteps.WINDOW_S == {k: w.total_seconds() for k, w in WINDOWS.items()}  # the server's config

    fates = Counter()
    for _ in range(3000):
        kind = rng.choice(list(sidesteps.WINDOW_S))
        summoned = sidesteps.summon(rng, "a", [["b", "c"], ["b", "d"], ["a", "b", "c", "d", "e", "f"]])
        assert summoned[0] == "a" and 2 <= len(summoned) == len(set(summoned)) <= 4
        assert set(summoned[1:3]) & {"b", "c"}  # the likeliest departments first
        life = plan_life(rng, urgency="critical", limit_s=1 * HOUR, profile=profile_for("AQ"), department="a", departments=["a"])
        steps = sidesteps.with_whistle(rng, life, kind, summoned)
        offsets = [s.offset_s for s in steps]
        assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
        actions = [s.action for s in steps]
        assert actions.index("whistle") < actions.index("close") and actions.count("whistle") == 1
        whistle = steps[actions.index("whistle")]
        assert whistle.body["kind"] == kind and whistle.body["departments"] == summoned and whistle.body["role"] == "centre"
        reports = [s for s in steps if s.action == "report_in"]
        assert len({s.body["department"] for s in reports}) == len(reports) and all(s.body["role"] == "department" for s in reports)
        assert all(s.offset_s > whistle.offset_s for s in reports)
        for s in reports:
            within = s.offset_s - whistle.offset_s <= sidesteps.WINDOW_S[kind]
            assert within != s.late
            fates["late" if s.late else "on_time"] += 1
        fates["never"] += len(summoned) - len(reports)
    assert 0.77 < share(fates, "on_time") < 0.83 and 0.11 < share(fates, "late") < 0.17 and 0.04 < share(fates, "never") < 0.08


# -- backfill through the API --------------------------------------------------------------------------
def test_backfill_posts_history_in_batches_and_moves_each_case_legally(backfilled):
    server, sim, created = backfilled
    assert created == 2100 == len(server.events)
    assert server.problems == []
    posts = [b for m, p, b in server.requests if m == "POST" and p == "/api/v1/events"]
    assert len(posts) == 5 and all(isinstance(b, list) and len(b) <= 500 for b in posts)
    for e in server.events.values():
        actions = [s[0] for s in e["steps"]]
        stamps = [s[1] for s in e["steps"]]
        assert stamps == sorted(stamps), actions
        assert actions[0] == "dispatch" and actions.count("close") <= 1
        assert "close" not in actions or not {"mediate", "whistle"} & set(actions[actions.index("close"):])
        assert all(len(s) == 2 or "at" in s[2] for s in e["steps"])
    # Closure and on-time shares over the backfill, as the wall would count them.
    now = datetime.now().astimezone()
    events = list(server.events.values())
    closed = [e for e in events if e["status"] in ("closed", "rated")]
    on_time = [e for e in closed if next(s[1] for s in e["steps"] if s[0] == "close") <= e["deadline"]]
    overdue = [e for e in events if e not in closed and e["deadline"] < now]
    assert 0.93 <= len(closed) / len(events) <= 0.99
    assert 0.96 <= len(on_time) / len(closed) <= 0.995
    assert 0.005 <= len(overdue) / len(events) <= 0.05
    levels = Counter(next(s[2]["resolved_level"] for s in e["steps"] if s[0] == "close") for e in closed)
    assert (levels["grid"] + levels["community"]) / len(closed) >= 0.93
    ratings = Counter(next(s[2]["rating"] for s in e["steps"] if s[0] == "rate") for e in events if e["status"] == "rated")
    assert 0.85 < share(ratings, 3) < 0.95 and share(ratings, 1) < 0.03
    assert Counter(s[0] for e in events for s in e["steps"])["return"] > 0
    # What is not finished yet continues in live mode.
    assert 0 < sim.open_cases < len(events) - len(closed) + len(events) // 10


def test_backfill_mediates_disputes_before_they_close(backfilled):
    server, sim, _ = backfilled
    assert server.problems == []
    disputes = [e for e in server.events.values() if e["body"]["item"].startswith("MD")]
    others = [e for e in server.events.values() if e not in disputes]
    assert len(disputes) > 100 and not any(s[0] == "mediate" for e in others for s in e["steps"])
    closed = [e for e in disputes if e["status"] in CLOSED]
    assert closed and all(e["settled"] for e in closed)  # every closed dispute was settled first
    endings = Counter((e["rung"], e["settled"]) for e in closed)
    assert endings["community", "mediated"] / len(closed) > 0.8
    assert sum(v for (_, o), v in endings.items() if o == "mediated") / len(closed) > 0.95
    assert any(s[2]["outcome"] == "failed" for e in closed for s in e["steps"] if s[0] == "mediate")
    for e in closed:
        level = next(s[2]["resolved_level"] for s in e["steps"] if s[0] == "close")
        assert level in sidesteps.CLOSE_LEVELS[e["rung"]], (e["rung"], level)
        assert all("at" in s[2] for s in e["steps"][1:] if s[0] == "mediate")
    mediated = sum(s[0] == "mediate" for e in disputes for s in e["steps"])
    assert sim.stats["step_mediate"] == mediated and sim.stats["skipped_mediate"] == 0


def test_backfill_whistles_some_emergencies_and_departments_report_in(backfilled):
    server, sim, _ = backfilled
    assert server.problems == []
    whistles = list(server.whistles.values())
    assert 5 <= len(whistles) <= 0.03 * len(server.events)
    for w in whistles:
        e = server.events[w["event"]]
        urgency, item = e["body"]["urgency"], sim._items[e["body"]["item"]]
        assert w["kind"] == {"critical": "emergency", "urgent": "assembly"}[urgency] if item.alarming else w["kind"] == "livelihood"
        assert 2 <= len(w["calls"]) <= 4
    calls = [(at, w["report_by"]) for w in whistles for at in w["calls"].values()]
    on_time = sum(at is not None and at <= by for at, by in calls)
    late = sum(at is not None and at > by for at, by in calls)
    assert on_time > 2 * late and on_time < len(calls)  # some late or never
    assert sim.stats["step_whistle"] == len(whistles) and sim.stats["step_report_in"] == on_time + late


def test_a_history_sent_again_picks_up_where_it_stopped_and_sends_nothing_twice(monkeypatch):
    """The same seed, end and source prefix draw the same history; sent again after a crash half-way, reports
    already stored are not sent as new and each case goes on after its last stored step (found over HTTP:
    its history and whistles), ending as the history sent at one go."""
    monkeypatch.setattr(sidesteps, "WHISTLE_SHARE", dict.fromkeys(sidesteps.WHISTLE_SHARE, 1.0))
    until = time.time() - 600
    history = dict(days=1, per_day=300, progress=False, until=until, source_prefix="history-1")
    whole, cut = FakeServer(), FakeServer()
    with Simulator("http://city.test", KEY, seed=9, client=whole.client()) as sim:
        sim.backfill(**history)
    rounds, steps = {"n": 0}, CityApi.steps

    def crashing(self, *args, **kw):
        rounds["n"] += 1
        if rounds["n"] == 6:
            raise RuntimeError("killed")
        return steps(self, *args, **kw)

    monkeypatch.setattr(CityApi, "steps", crashing)
    with Simulator("http://city.test", KEY, seed=9, client=cut.client()) as sim, pytest.raises(RuntimeError):
        sim.backfill(**history)
    monkeypatch.setattr(CityApi, "steps", steps)
    halfway = sum(len(e["steps"]) for e in cut.events.values())
    with Simulator("http://city.test", KEY, seed=9, client=cut.client()) as sim:
        assert sim.backfill(**history) == 0
    assert sim.stats["backfill_resumed"] == 300 and cut.problems == whole.problems == []

    def taken(server):
        return {e["body"]["source_id"]: (e["status"], [s[:2] for s in e["steps"]]) for e in server.events.values()}

    def whistled(server):
        return sorted((w["event"], w["kind"], w["at"], sorted(w["calls"].items())) for w in server.whistles.values())

    assert taken(cut) == taken(whole) and whistled(cut) == whistled(whole)
    assert sum(len(e["steps"]) for e in cut.events.values()) > halfway
    assert any(at is not None for w in whole.whistles.values() for at in w["calls"].values())


def test_backfill_repairs_a_batch_the_server_rejects(server, sim):
    server.reject_points_of = {g["code"] for g in server.areas["grid"][:10]}
    assert sim.backfill(days=1, per_day=300, progress=False) == 300
    stored = [e["body"] for e in server.events.values() if e["grid"] in server.reject_points_of]
    assert stored and all("lat" not in b for b in stored)


# -- live ------------------------------------------------------------------------------------------------
def test_run_reports_and_moves_cases_along(server, steady):
    sim = Simulator("http://city.test", KEY, seed=1, client=server.client(), rate=60.0, speedup=20000)
    stop = threading.Event()
    started = time.monotonic()
    sim.run(stop, duration_s=2.0)
    assert time.monotonic() - started < 3.0
    assert server.problems == []
    assert len(server.events) >= 10
    actions = Counter(s[0] for e in server.events.values() for s in e["steps"])
    assert actions["accept"] >= 5 and actions["close"] >= 1
    transitions = [b for m, p, b in server.requests if p.endswith("/transitions")]
    assert transitions and not any("at" in b for b in transitions)  # live steps carry the server's own time
    assert all("reported_at" in b for m, p, b in server.requests if p == "/api/v1/events" for b in (b if isinstance(b, list) else [b]))


def test_run_whistles_and_mediates_live(server, steady, monkeypatch):
    monkeypatch.setattr(sidesteps, "WHISTLE_SHARE", dict.fromkeys(sidesteps.WHISTLE_SHARE, 1.0))
    sim = Simulator("http://city.test", KEY, seed=5, client=server.client(), rate=60.0, speedup=20000)
    sim.run(threading.Event(), duration_s=2.5)
    assert server.problems == []
    side = [(p, b) for m, p, b in server.requests if re.search(r"/(mediation|whistles|reports)$", p)]
    assert side and not any("at" in b for _, b in side)  # live steps carry the server's own time
    assert any(e["settled"] for e in server.events.values())
    reported = [d for w in server.whistles.values() for d, at in w["calls"].items() if at is not None]
    assert server.whistles and reported
    assert sim.stats["step_mediate"] > 0 and sim.stats["step_whistle"] == len(server.whistles)
    assert sim.stats["step_report_in"] == len(reported)


def test_side_steps_made_moot_by_someone_else_are_skipped(server, sim, monkeypatch):
    monkeypatch.setattr(sidesteps, "WHISTLE_SHARE", dict.fromkeys(sidesteps.WHISTLE_SHARE, 1.0))
    dispute, alarm = sim.factory.make(time.time() - 30), sim.factory.make(time.time() - 30)
    dispute.update(item="MD01", urgency="normal")
    alarm.update(item="AQ01", urgency="critical")
    pairs, _ = sim._ingest([dispute, alarm])
    cases = [sim._new_case(body, event, time.time()) for body, event in pairs]
    assert [sum(s.action == a for s in c.steps) > 0 for c, a in zip(cases, ("mediate", "whistle"))] == [True, True]
    server.events[cases[0].id]["settled"] = "mediated"  # a mediator settled it on the wall's own form
    cases[1].index = next(i for i, s in enumerate(cases[1].steps) if s.action == "whistle")
    server.events[cases[1].id]["status"] = "closed"  # a duty officer closed it meanwhile
    for case in cases:
        sim._schedule(case)
    for _ in range(40):
        sim._advance(time.time() + 10 * 86400)
    assert sim.open_cases == 0 and server.problems == []
    assert server.events[cases[0].id]["status"] in CLOSED and sim.stats["step_close"] >= 1
    assert sim.stats["skipped_mediate"] == sum(s.action == "mediate" for s in cases[0].steps)
    assert sim.stats["skipped_whistle"] == 1 and not server.whistles
    assert not any(p.endswith("/reports") for _, p, _ in server.requests)


def test_run_survives_a_server_outage_without_busy_looping(server, steady):
    server.down = True
    calls = Counter()

    def counting(request):
        calls["down" if server.down else "up"] += 1
        return server.handle(request)

    client = httpx.Client(transport=httpx.MockTransport(counting))
    sim = Simulator("http://city.test", KEY, seed=2, client=client, rate=30.0, speedup=20000)
    stop = threading.Event()
    threading.Timer(1.2, lambda: setattr(server, "down", False)).start()
    sim.run(stop, duration_s=3.5)
    assert 1 <= calls["down"] <= 6
    assert len(server.events) > 5 and server.problems == []


def test_run_stops_promptly(server):
    sim = Simulator("http://city.test", KEY, seed=3, client=server.client(), rate=0.5)
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    sim.run(stop)
    assert time.monotonic() - started < 1.5


def test_a_case_moved_by_someone_else_is_continued_from_where_it_is(server, sim):
    made = sim.factory.make(time.time() - 30)
    pairs, created = sim._ingest([made])
    assert created == 1
    case = sim._new_case(*pairs[0], anchor=time.time())
    server.events[case.id]["status"] = "handled"  # a duty officer went ahead
    sim._schedule(case)
    for _ in range(20):
        sim._advance(time.time() + 10 * 86400)
    assert server.events[case.id]["status"] in ("closed", "rated")
    assert [s[0] for s in server.events[case.id]["steps"]][1:3] == ["verify", "close"]
    assert sim.stats["cases_resynced"] == 1 and sim.open_cases == 0


def test_live_cases_waiting_for_their_real_deadline_are_bounded(server, sim, monkeypatch):
    monkeypatch.setattr(simulator, "MAX_LATE_CASES", 0)
    pairs, _ = sim._ingest([sim.factory.make(time.time() - 10) for _ in range(300)])
    cases = [sim._new_case(body, event, time.time(), live=True) for body, event in pairs]
    assert not any(step.late for case in cases for step in case.steps)
    monkeypatch.setattr(simulator, "MAX_LATE_CASES", 10**6)
    cases = [sim._new_case(body, event, time.time(), live=True) for body, event in pairs * 10]
    for case in cases:
        case.index = next((i for i, step in enumerate(case.steps) if step.late), 0)
        sim._schedule(case)
    late = sum(case.steps[case.index].late for case in cases)
    assert late > 30 and sim._late_waiting == late and sim.open_cases == len(cases)
    while sim.open_cases:
        sim._pop()
    assert sim._late_waiting == 0


def test_open_cases_are_bounded(server, steady, monkeypatch):
    monkeypatch.setattr(simulator, "MAX_OPEN_CASES", 20)
    sim = Simulator("http://city.test", KEY, seed=4, client=server.client(), rate=200.0, speedup=1.0)
    sim.run(threading.Event(), duration_s=1.0)
    assert sim.open_cases <= 20 and len(server.events) <= 25 and sim.stats["arrivals_paused"] > 0
