"""The admin page on the server: admins only, in the middleware and in every callback, refusals audited."""

from __future__ import annotations

import json

import pytest
from tests_support import audit_entries, dash_callback, login

from layouts import ids

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

TABLES = [(ids.ADMIN_KEYS, "children"), (ids.ADMIN_TOKENS, "children"), (ids.ADMIN_ACCOUNTS, "children")]
SEARCH_OUTPUTS = [(ids.ADMIN_AUDIT, "children"), (ids.ADMIN_AUDIT_BEFORE, "data"), (ids.ADMIN_SEARCH_MORE, "hidden"),
                  (ids.ADMIN_AUDIT_MESSAGE, "children"), (ids.ADMIN_AUDIT_MESSAGE, "className")]


def _tables(web):
    return dash_callback(web, TABLES, [(ids.ADMIN_DONE, "data", 0)], [(ids.ADMIN_LANG, "data", "zh")])


def _search(web, **filters):
    fields = [ids.ADMIN_SEARCH_WHO, ids.ADMIN_SEARCH_ACTION, ids.ADMIN_SEARCH_OUTCOME, ids.ADMIN_SEARCH_SINCE,
              ids.ADMIN_SEARCH_UNTIL, ids.ADMIN_SEARCH_IP]
    names = ["who", "action", "outcome", "since", "until", "ip"]
    state = [(f, "value", filters.get(n)) for f, n in zip(fields, names)]
    state += [(ids.ADMIN_AUDIT_BEFORE, "data", None), (ids.ADMIN_LANG, "data", filters.get("lang", "zh"))]
    return dash_callback(web, SEARCH_OUTPUTS, [(ids.ADMIN_SEARCH_SUBMIT, "n_clicks", 1), (ids.ADMIN_SEARCH_MORE, "n_clicks", None)],
                         state)


def _revoke(web, source: str):
    button = ids.admin_act("apikey.revoke", source)
    clicks = [{"id": button, "property": "n_clicks", "value": 1}]
    outputs = [(ids.ADMIN_MESSAGE, "children"), (ids.ADMIN_MESSAGE, "className"), (ids.ADMIN_SECRET, "children"),
               (ids.ADMIN_DONE, "data")]
    changed = json.dumps(button, sort_keys=True, separators=(",", ":")) + ".n_clicks"
    return dash_callback(web, outputs, [clicks], [(ids.ADMIN_LANG, "data", "zh"), (ids.ADMIN_DONE, "data", 0)], changed=changed)


def test_only_admins_open_the_admin_page_or_run_its_callbacks(web, runtime, account, api_key):
    assert web.get("/admin").status_code == 303, "signed out: to the login page"
    assert login(web, account("duty"), next_path="/admin").headers["location"] == "/duty", "not where a duty officer lands"
    assert web.get("/admin").status_code == 403
    assert _tables(web).status_code == 403
    assert _search(web).status_code == 403
    assert _revoke(web, "test-source").status_code == 403
    page = dash_callback(web, [(ids.PAGE, "children")], [(ids.URL, "pathname", "/admin"), (ids.URL, "search", "")])
    assert page.status_code == 403
    refused = [(e.action, e.subject) for e in audit_entries(runtime, outcome="refused", role="duty")]
    assert refused == [("open", "/admin"), ("admin.view", None), ("audit.search", None),
                       ("apikey.revoke", "test-source"), ("open", "/admin")]

    web.cookies.clear()
    admin = account("admin")
    assert login(web, admin, next_path="/admin").headers["location"] == "/admin"
    assert web.get("/admin").status_code == 200
    assert web.get("/duty").status_code == 200 and "/admin" in _page(web, "/duty"), "the desk links admins to the page"
    tables = _tables(web)
    assert tables.status_code == 200 and "test-source" in tables.text and admin in tables.text
    revoked = _revoke(web, "test-source")
    assert revoked.status_code == 200
    assert revoked.json()["response"][ids.ADMIN_MESSAGE]["children"] == "已吊销来源“test-source”的密钥"
    (entry,) = audit_entries(runtime, action="apikey.revoke", outcome="ok")
    assert entry.username == admin and entry.channel == "web" and entry.ip


def _page(web, path: str) -> str:
    answer = dash_callback(web, [(ids.PAGE, "children")], [(ids.URL, "pathname", path), (ids.URL, "search", "")])
    return json.dumps(answer.json(), ensure_ascii=False)


def test_the_audit_search_on_the_page(web, runtime, account):
    admin = account("admin")
    login(web, admin, next_path="/admin")
    found = _search(web, action="login")
    assert found.status_code == 200 and admin in found.text
    bad = _search(web, since="上周二", outcome="maybe")
    assert bad.status_code == 200
    message = bad.json()["response"][ids.ADMIN_AUDIT_MESSAGE]["children"]
    assert message.startswith("请检查：") and "起始时间" in message and "结果" in message
    forged = _search(web, who=["not", "text"], lang="en")
    assert forged.status_code == 200 and "Who: must be text" in forged.text
