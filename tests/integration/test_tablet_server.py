"""The tablet's callbacks on the server: scoped to the account's area (refusals answered 403 and
audited), reporters shown by role, and the same figures as the KPI API."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from tests_support import login

from bigscreen.auth.privacy import mask_name, mask_phone
from bigscreen.auth.sessions import CSRF_COOKIE
from bigscreen.db.models import AuditEntry
from bigscreen.live.kpi import KPI_NAMES
from bigscreen.screens.tablet import OPEN_CASES_SHOWN, breadcrumb
from layouts import ids
from layouts import tablet as layout

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _login(web, username):
    web.cookies.clear()
    r = login(web, username)
    assert r.status_code == 303, r.text


def _callback(web, output_id: str, inputs: dict, state: dict, outputs_for_all: list[dict] | None = None):
    """Calls the registered callback that writes `output_id`, as Dash's renderer would."""
    deps = web.get("/_dash-dependencies").json()
    dep = next(d for d in deps if f"{output_id}." in d["output"])
    outputs = []
    for spec in dep["output"].strip(".").split("..."):
        ident, prop = spec.rsplit(".", 1)
        if ident.startswith("{"):  # a pattern-matching output: one entry per matched component
            outputs.append([{"id": i, "property": prop} for i in outputs_for_all or []])
        else:
            outputs.append({"id": ident, "property": prop})
    body = {
        "output": dep["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": [{"id": i["id"], "property": i["property"], "value": inputs.get(f"{i['id']}.{i['property']}")}
                   for i in dep["inputs"]],
        "state": [{"id": s["id"], "property": s["property"], "value": state.get(f"{s['id']}.{s['property']}")}
                  for s in dep["state"]],
        "changedPropIds": [f"{i['id']}.{i['property']}" for i in dep["inputs"]],
    }
    return web.post("/_dash-update-component", json=body, headers={"X-CSRFToken": web.cookies.get(CSRF_COOKIE) or ""})


def _page(web, search: str):
    return _callback(web, "page", {"url.pathname": "/", "url.search": search}, {})


def _figures(web, code: str, children: list[str] = ()):
    figures = [ids.tablet_child_figure(c, f) for c in children for f in layout.CHILD_FIGURES]
    return _callback(web, ids.tablet_kpi("open"), {f"{ids.TABLET_TICK}.n_intervals": 0},
                     {f"{ids.TABLET_ROOT}.data-area": code}, figures)


def _grid(web, code: str, lang: str = "zh"):
    return _callback(web, ids.TABLET_CASES, {f"{ids.TABLET_GRID_TICK}.n_intervals": 0},
                     {f"{ids.TABLET_ROOT}.data-area": code, f"{ids.TABLET_ROOT}.data-lang": lang})


def _text(response) -> str:
    return json.dumps(response.json(), ensure_ascii=False)


def _post(web, api_key, runtime, grid: str, sid: str, **extra) -> int:
    item = runtime.config.categories[0].items[0].code
    r = web.post("/api/v1/events", headers={"X-API-Key": api_key},
                 json={"source_id": sid, "channel": "hotline_12345", "item": item, "grid": grid,
                       "description": "路灯不亮", **extra})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _in(runtime, district: str):
    return next(g for g in runtime.areas.at_level(runtime.areas.grid_level) if g.chain[1] == district)


def test_a_leader_sees_only_their_own_area(web, runtime, account):
    district, other = (a.code for a in runtime.areas.at_level(1)[:2])
    mine, theirs = _in(runtime, district), _in(runtime, other)
    _login(web, account("leader", district))

    r = _page(web, "")
    assert r.status_code == 200
    assert f'"data-area":"{district}"' in r.text.replace(" ", ""), "a leader starts at their own area"
    assert f"?area={runtime.areas.city.code}" not in r.text, "no link above the leader's scope"
    assert _page(web, f"?area={mine.code}").status_code == 200
    assert _figures(web, mine.code).status_code == 200 and _grid(web, mine.code).status_code == 200

    assert _page(web, f"?area={other}").status_code == 403
    assert _page(web, f"?area={runtime.areas.city.code}").status_code == 403
    assert _figures(web, other).status_code == 403
    assert _grid(web, theirs.code).status_code == 403
    click = {f"{ids.TABLET_MAP_IDS.fill}.clickData": {"properties": {"code": theirs.chain[2]}}}
    assert _callback(web, ids.TABLET_NAV, click, {f"{ids.TABLET_ROOT}.data-area": other}).status_code == 403
    with runtime.sessions() as s:
        refused = s.execute(select(AuditEntry.action, AuditEntry.subject, AuditEntry.role)
                            .where(AuditEntry.outcome == "refused").order_by(AuditEntry.id)).all()
    city = runtime.areas.city.code
    asked = (other, city, other, theirs.code, other)
    assert [tuple(r) for r in refused] == [("view area", code, "leader") for code in asked]


def test_reporters_are_shown_by_role(web, runtime, api_key, account):
    district = runtime.areas.at_level(1)[0].code
    grid = _in(runtime, district)
    _post(web, api_key, runtime, grid.code, "p-1", reporter_name="张三", reporter_phone="13812345678",
          description="<script>alert(1)</script>井盖缺失，回电13900001111")

    _login(web, account("duty"))
    shown = _text(_grid(web, grid.code))
    assert "13812345678" in shown and "张三" in shown, "a duty officer sees the reporter in full"
    assert "<script>alert(1)</script>井盖缺失，回电13900001111" in shown, "the description travels as a text child"

    _login(web, account("leader", district))
    masked = _text(_grid(web, grid.code))
    assert "138****5678" in masked and "张*" in masked
    assert "13812345678" not in masked and "张三" not in masked
    assert "井盖缺失，回电139****1111" in masked and "13900001111" not in masked, "and personal data in the description"

    assert mask_name("欧阳娜娜") == "欧***" and mask_name("") is None and mask_phone(None) is None
    assert mask_phone("0546-12345678") == "0546-*****678" and mask_phone("12345") == "*****"


def test_figures_equal_the_kpi_api(web, runtime, api_key, account):
    district = runtime.areas.at_level(1)[1]
    grids = [g for g in runtime.areas.at_level(runtime.areas.grid_level) if g.chain[1] == district.code][:3]
    for i, g in enumerate(grids * 2):
        _post(web, api_key, runtime, g.code, f"k-{i}")
    closing = _post(web, api_key, runtime, grids[0].code, "k-closed")
    for body in ({"action": "accept", "role": "department"}, {"action": "handle", "role": "department"},
                 {"action": "verify", "role": "grid_worker", "photo_url": "/v.jpg"},
                 {"action": "close", "role": "centre", "resolved_level": "grid"}):
        r = web.post(f"/api/v1/events/{closing}/transitions", headers={"X-API-Key": api_key}, json=body)
        assert r.status_code == 200, r.text
    _login(web, account("leader", district.code))
    children = [a for a in runtime.areas.by_code.values() if a.parent_code == district.code]

    got = _figures(web, district.code, [c.code for c in children]).json()["response"]
    kpi = web.get(f"/api/v1/kpi?area={district.code}", headers={"X-API-Key": api_key}).json()
    assert kpi["reported_today"] == 7 and kpi["closure_rate"] is not None
    for name in KPI_NAMES:
        shown = got[ids.tablet_kpi(name)]["data-value"]
        assert (None if shown == "" else float(shown)) == kpi[name], name
    for child in children:
        figures = web.get(f"/api/v1/kpi?area={child.code}", headers={"X-API-Key": api_key}).json()
        assert got[json.dumps(ids.tablet_child_figure(child.code, "open"), separators=(",", ":"), sort_keys=True)][
            "children"] == f"{figures['open']:,}"
    hideout = got[ids.TABLET_MAP_IDS.fill]["hideout"]
    assert sum(int(v) for v in hideout["values"].values()) == kpi["open"]


def test_a_grids_open_cases_newest_first_capped_and_flagged_late(web, runtime, api_key, account):
    from datetime import timedelta

    grid = runtime.areas.at_level(runtime.areas.grid_level)[7]
    item = runtime.config.categories[0].items[0].code
    batch = [{"source_id": f"c-{i:02d}", "channel": "grid_app", "item": item, "grid": grid.code,
              "description": f"第{i}件",
              "reported_at": (runtime.clock() - timedelta(minutes=60 - i)).isoformat()} for i in range(52)]
    r = web.post("/api/v1/events", headers={"X-API-Key": api_key}, json=batch)
    assert r.status_code == 200 and r.json()["created"] == 52, r.text
    _login(web, account("leader", grid.chain[2]))
    workers, people, cases = (_grid(web, grid.code).json()["response"][i]["children"]
                              for i in (ids.TABLET_WORKERS, ids.TABLET_PEOPLE, ids.TABLET_CASES))
    items = cases[0]["props"]["children"]
    assert len(items) == OPEN_CASES_SHOWN and "最新 50 件" in json.dumps(cases[1], ensure_ascii=False)
    texts = [json.dumps(i, ensure_ascii=False) for i in items]
    assert "第51件" in texts[0] and "第2件" in texts[-1], "newest first"
    assert all('"data-overdue": "0"' in t for t in texts)
    assert any(p["props"].get("data-figure") == "population" for p in people) and workers

    now = runtime.clock
    runtime.clock = lambda: now() + timedelta(days=30)  # every deadline has passed
    try:
        late = _text(_grid(web, grid.code))
    finally:
        runtime.clock = now
    assert '"data-overdue": "1"' in late and "已超期" in late


def test_the_breadcrumb_starts_at_the_accounts_scope(runtime):
    grid = runtime.areas.by_code[runtime.areas.at_level(runtime.areas.grid_level)[0].code]
    assert [a.code for a in breadcrumb(runtime.areas, grid, grid.chain[2])] == list(grid.chain[2:])
    assert [a.code for a in breadcrumb(runtime.areas, grid, None)] == list(grid.chain)
