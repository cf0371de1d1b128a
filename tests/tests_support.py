"""Small helpers shared by tests (importable because pytest puts tests/ on sys.path)."""

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest

PASSWORD = "correct horse battery"  # every test account's password
PG_BIN = Path("/usr/lib/postgresql/15/bin")

# A test whose subject is not SQL (rendering a document, roles and areas, validating input before any
# write, scheduling) runs on SQLite only; what SQL computes or stores is tested on both databases.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def proc_stat(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the command: state, ppid, ... (nice is [16])."""
    return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()


def processes_below(ancestor: int) -> dict[int, tuple[str, str, int, bytes]]:
    """pid -> (state, command, niceness, command line) of every process below `ancestor`."""
    procs = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = proc_stat(int(pid))
            procs[int(pid)] = (int(fields[1]), fields[0], open(f"/proc/{pid}/comm").read().strip(), int(fields[16]),
                               open(f"/proc/{pid}/cmdline", "rb").read())
        except OSError:
            continue
    found = {}
    for pid, (ppid, *about) in procs.items():
        up = ppid
        while up > 1 and up != ancestor:
            up = procs.get(up, (1,))[0]
        if up == ancestor:
            found[pid] = tuple(about)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, app, port: int, *, ws_deflate: bool = False) -> None:
        """ws_deflate: as `bigscreen serve` does by default (Settings.ws_deflate), websockets not deflated."""
        import uvicorn

        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                    ws_per_message_deflate=ws_deflate))
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


class PostgresCluster:
    """A throwaway PostgreSQL cluster on a random port (run as the postgres user when we are root),
    which a test may also stop and start again."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="bs-pg-"))
        self.datadir, self.port = self.root / "data", free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.root, "postgres", "postgres")

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(self._as + list(args), check=check, capture_output=True)

    def create(self) -> "PostgresCluster":
        self._run(str(self.bin / "initdb"), "-D", str(self.datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8")
        return self.start()

    def start(self) -> "PostgresCluster":
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.datadir), "-o",
                  f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off",
                  "-l", str(self.root / "log"), "-w", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop", check=False)

    def create_database(self, name: str) -> str:
        return create_database(self.url, name)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def sign_in(page, base_url: str, username: str, password: str, next_path: str | None = None) -> None:
    """Signs in through the login form, as a person would, and waits for the page it lands on (the
    one asked for in `next_path`, or the account's home: /duty for duty officers and admins, / for
    leaders)."""
    page.goto(f"{base_url}/login" + (f"?next={quote(next_path, safe='')}" if next_path else ""))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: not url.startswith(f"{base_url}/login"))


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


def hot_spot_js(container: str) -> str:
    """A JS function: a point well inside a red area of the canvas map in `container` (the top of
    the colour scale: the one area with open cases), or null while there is none."""
    return f"""() => {{
  const box = document.querySelector('{container}').getBoundingClientRect();
  const canvas = document.querySelector('{container} .leaflet-overlay-pane canvas');
  if (!canvas || !canvas.width) return null;
  const w = canvas.width, h = canvas.height, rect = canvas.getBoundingClientRect();
  const px = canvas.getContext('2d').getImageData(0, 0, w, h).data;
  const sx = rect.width / w, sy = rect.height / h;
  const dist = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {{
    const i = (y * w + x) * 4, cx = rect.left + x * sx, cy = rect.top + y * sy;
    const red = px[i] > 200 && px[i + 1] < 100 && px[i + 2] < 100;
    const seen = cx > box.left && cx < box.right && cy > box.top && cy < box.bottom;
    dist[y * w + x] = red && seen ? 1e9 : 0;
  }}
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {{  // chamfer distance to the nearest non-red pixel
    const k = y * w + x; if (!dist[k]) continue;
    dist[k] = Math.min(dist[k], (x ? dist[k - 1] : 0) + 1, (y ? dist[k - w] : 0) + 1);
  }}
  let best = 0, at = null;
  for (let y = h - 1; y >= 0; y--) for (let x = w - 1; x >= 0; x--) {{
    const k = y * w + x; if (!dist[k]) continue;
    dist[k] = Math.min(dist[k], (x < w - 1 ? dist[k + 1] : 0) + 1, (y < h - 1 ? dist[k + w] : 0) + 1);
    if (dist[k] > best) {{ best = dist[k]; at = [rect.left + x * sx, rect.top + y * sy]; }}
  }}
  return best >= 4 ? at : null;
}}"""


def unsparse(pairs: list[int], n: int) -> list[int]:
    """The inverse of bigscreen.wall.frame.sparse for `n` areas (what assets/wall.js does with a frame's map)."""
    out, i = [0] * n, -1
    for skip, v in zip(pairs[::2], pairs[1::2]):
        i += skip + 1
        out[i] = v
    return out


class Officer:
    """A duty officer at work in a test: each verb runs the command the API and the desk run."""

    def __init__(self, runtime, who) -> None:
        self.runtime, self.who = runtime, who

    def acknowledge(self, alert_id: int, comment: str | None = None) -> dict:
        from bigscreen.alerts.commands import AcknowledgeAlert, AlertNote

        return AcknowledgeAlert(self.runtime, self.who, alert_id, AlertNote(comment=comment)).run()

    def resolve(self, alert_id: int, comment: str | None = None) -> dict:
        from bigscreen.alerts.commands import AlertNote, ResolveAlert

        return ResolveAlert(self.runtime, self.who, alert_id, AlertNote(comment=comment)).run()

    def escalate(self, alert_id: int, comment: str | None = None) -> dict:
        from bigscreen.alerts.commands import AlertNote, EscalateAlert

        return EscalateAlert(self.runtime, self.who, alert_id, AlertNote(comment=comment)).run()

    def raise_by_hand(self, colour: str, title: str, area: str | None, event_id: int | None = None) -> dict:
        from bigscreen.alerts.commands import NewAlert, RaiseAlert

        return RaiseAlert(self.runtime, self.who, NewAlert(colour=colour, title=title, area=area, event_id=event_id)).run()


def dash_callback(web, outputs: list[tuple[str, str]], inputs: list, state=(), changed: str | None = None):
    """POSTs one Dash callback as the renderer would (with the session's CSRF token): `outputs` as
    (id, property) pairs, `inputs` and `state` as (id, property, value), or as the renderer's own
    list for a wildcard (ALL); ids may be dicts. `changed`: the prop that fired (default the first input)."""
    import json

    def key(id_) -> str:
        return json.dumps(id_, sort_keys=True, separators=(",", ":")) if isinstance(id_, dict) else id_

    joined = outputs[0] if len(outputs) == 1 else None
    body = {"output": f"{key(joined[0])}.{joined[1]}" if joined else ".." + "...".join(f"{key(i)}.{p}" for i, p in outputs) + "..",
            "outputs": ({"id": joined[0], "property": joined[1]} if joined
                        else [{"id": i, "property": p} for i, p in outputs]),
            "inputs": [x if isinstance(x, list) else {"id": x[0], "property": x[1], "value": x[2]} for x in inputs],
            "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
            "changedPropIds": [changed or f"{key(inputs[0][0])}.{inputs[0][1]}"]}
    return web.post("/_dash-update-component", json=body, headers={"X-CSRFToken": web.cookies.get("_csrf_token") or ""})


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    """Creates database `name` (a copy of `template`, if given) on the PostgreSQL server at `server_url`
    (SQLAlchemy's form, no database); returns its URL."""
    import psycopg

    with psycopg.connect(server_url.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return f"{server_url}/{name}"


_db_counter = iter(range(1, 10_000))


def new_database(request, tmp_path) -> str:
    """A new database for a test parametrised by kind (request.param: sqlite or postgresql): empty, or already
    holding the test city (tests/conftest.py CityTemplates) where the test uses `runtime`."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
    else:
        url = f"{request.getfixturevalue('postgres_server')}/t{os.getpid()}_{next(_db_counter)}"
    if "runtime" in request.fixturenames:
        request.getfixturevalue("city_templates").create(url)
    elif request.param == "postgresql":
        create_database(*url.rsplit("/", 1))
    return url
