"""The shape of the house, held to docs/ARCHITECTURE.md: which module may import which.

Imports are read from the source (every `import` and `from … import`, also those inside functions,
which once hid a loop), not from a running interpreter."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bigscreen", "layouts", "callbacks")
ASSEMBLY = "bigscreen.app"  # the one core module that may know Dash: it assembles the app


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[module_name(path)] = path
    return found


MODULES = project_modules()


def imports_of(name: str) -> set[str]:
    """Every module `name` imports, as written (absolute), including imports inside functions."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return found


def project_imports(name: str) -> set[str]:
    """The project's own modules that `name` imports (a package's face counts as the package)."""
    return {target for target in imports_of(name) if target in MODULES and target != name}


def test_the_core_knows_nothing_of_dash_layouts_or_callbacks():
    forbidden = re.compile(r"^(dash|dash_[a-z_]+|layouts|callbacks)(\.|$)")
    offenders = sorted(
        f"{name} imports {target}"
        for name in MODULES if name.startswith("bigscreen") and name != ASSEMBLY
        for target in imports_of(name) if forbidden.match(target)
    )
    assert offenders == []


def test_layouts_never_import_callbacks():
    offenders = sorted(f"{name} imports {target}" for name in MODULES if name.startswith("layouts")
                       for target in imports_of(name) if target.split(".")[0] == "callbacks")
    assert offenders == []


def test_no_import_loops():
    graph = {name: project_imports(name) for name in MODULES}
    loops = [sorted(group) for group in strongly_connected(graph) if len(group) > 1]
    assert loops == []


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[set[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    groups.append(group)
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return groups


def test_component_ids_come_from_layouts_ids():
    """One convention for component IDs, in one module: layouts and callbacks never spell one out."""
    spelled = []
    for name, path in MODULES.items():
        if name.split(".")[0] not in ("layouts", "callbacks") or name == "layouts.ids":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            given = [k.value for k in node.keywords if k.arg in ("id", "component_id")]
            if called in ("Input", "Output", "State") and node.args:
                given.append(node.args[0])
            spelled += [f"{path.relative_to(ROOT)}:{v.lineno}" for v in given if isinstance(v, (ast.Constant, ast.JoinedStr))]
    assert spelled == []


# -- docs/ARCHITECTURE.md's module map -------------------------------------------------------------

def module_map() -> list[tuple[list[str], str]]:
    """The rows of the "Modules" table, bottom layer first: (paths of the first cell, the row's text)."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    section = text.split("\n## Modules\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if line.startswith("| `"):
            first, rest = line[2:].split(" | ", 1)
            rows.append((re.findall(r"`([^`]+)`", first), rest))
    return rows


def row_of(path: Path, rows: list[tuple[list[str], str]]) -> int | None:
    """The row that names `path`: its own path, else its nearest folder's row that names its file."""
    rel = path.relative_to(ROOT).as_posix()
    for i, (paths, _) in enumerate(rows):
        if rel in paths:
            return i
    best = None
    for i, (paths, rest) in enumerate(rows):
        for folder in paths:
            if folder.endswith("/") and rel.startswith(folder):
                inner = rel[len(folder):]
                named = inner.split("/")[0] + ("/" if "/" in inner else "")
                if path.name == "__init__.py" or f"`{named}" in rest:
                    if best is None or len(folder) > best[1]:
                        best = (i, len(folder))
    return best[0] if best else None


def test_every_module_is_on_the_map_and_every_path_on_it_exists():
    rows = module_map()
    missing = sorted(p.relative_to(ROOT).as_posix() for p in MODULES.values()
                     if p.name != "__init__.py" and row_of(p, rows) is None)
    assert missing == [], "modules docs/ARCHITECTURE.md's module map does not name (in their folder's row)"
    stale = sorted(p for paths, _ in rows for p in paths if not (ROOT / p).exists())
    assert stale == [], "paths on the module map that do not exist"


def test_imports_run_down_the_map():
    """A module imports from its own row of the map and the rows before it (the layers below), never later."""
    rows = module_map()
    layer = {name: row_of(path, rows) for name, path in MODULES.items()}
    upward = sorted(
        f"{name} (row {layer[name] + 1}) imports {target} (row {layer[target] + 1})"
        for name in MODULES for target in project_imports(name)
        if layer[name] is not None and layer[target] is not None and layer[target] > layer[name]
    )
    assert upward == []


# -- the Redis key table ---------------------------------------------------------------------------

PLACEHOLDERS = {"area": "{area}", "day": "{yyyymmdd}", "hour": "{yyyymmddhh}", "code": "{code}",
                "digest": "{sha256}", "user_id": "{id}", "scope": "{scope}", "key": "{key}"}


def key_families() -> set[str]:
    """Every key `Keys` makes, prefix removed, with its parameters as the table writes them."""
    import inspect

    from bigscreen.live.keys import Keys

    keys = Keys("bs:")
    made = set()
    for name, member in inspect.getmembers(Keys):
        if name.startswith("_") or name in ("prefix", "all_pattern"):
            continue
        if isinstance(member, property):
            made.add(getattr(keys, name))
        elif inspect.isfunction(member):
            params = list(inspect.signature(member).parameters)[1:]
            if member.__annotations__.get("return") not in ("str", str):
                continue  # a question about a key (is_duty, not_counters), not a key
            args = ["bs:" + PLACEHOLDERS[p] if p == "key" else PLACEHOLDERS[p] for p in params]
            made.add(member(keys, *args))
    return {k.removeprefix("bs:") for k in made}


def key_table() -> set[str]:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    section = text.split("### Redis key schema", 1)[1].split("\n#", 1)[0]
    return {k for line in section.splitlines() if line.startswith("| `")
            for k in re.findall(r"`([^`]+)`", line.split(" | ")[0])}


def test_the_key_table_lists_every_key_family_and_no_other():
    table = key_table()
    assert sorted(key_families() - table) == [], "key families of bigscreen/live/keys.py missing from the table"
    assert sorted(table - key_families()) == [], "keys in the table that bigscreen/live/keys.py does not make"


def test_the_checks_read_real_imports_and_find_loops():
    """The checks above would pass on nothing if the reader saw no imports or the search no loops."""
    assert "bigscreen.live.keys" in project_imports("bigscreen.process.runtime")
    assert "bigscreen.jobs.rebuild" in project_imports("bigscreen.jobs.watch")
    groups = strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert sorted(map(sorted, groups)) == [["a", "b", "c"], ["d"]]
