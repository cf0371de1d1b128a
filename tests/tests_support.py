"""Small helpers shared by tests (importable because pytest puts tests/ on sys.path)."""

import socket
import threading
import time
from urllib.parse import quote

PASSWORD = "correct horse battery"  # every test account's password


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, app, port: int) -> None:
        import uvicorn

        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def sign_in(page, base_url: str, username: str, password: str, next_path: str = "/") -> None:
    """Signs in through the login form, as a person would."""
    page.goto(f"{base_url}/login?next={quote(next_path, safe='')}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}{next_path}*")


def login(web, username: str, password: str = PASSWORD, next_path: str = "/"):
    """Signs in through the login form with a TestClient (its own form token included); returns
    the answer to the POST."""
    form = web.get(f"/login?next={quote(next_path, safe='')}")
    token = form.text.split('name="csrf" value="')[1].split('"')[0]
    return web.post("/login", data={"username": username, "password": password, "csrf": token, "next": next_path})


def audit_entries(runtime, **where):
    """The audit trail's entries matching column=value pairs, oldest first."""
    from sqlalchemy import select

    from bigscreen.db.models import AuditEntry

    with runtime.sessions() as s:
        q = select(AuditEntry)
        for name, value in where.items():
            q = q.where(getattr(AuditEntry, name) == value)
        return s.scalars(q.order_by(AuditEntry.id)).all()


def layout_prop_js(component_id: str, prop: str) -> str:
    """A JS expression: a component's prop as dash-renderer holds it (what a clientside output gave it)."""
    return ("(() => { const st = window.store.getState(); let node = st.layout;"
            f" for (const k of st.paths.strs['{component_id}']) node = node[k]; return node.props.{prop}; }})()")
