"""On a Redis Cluster every key of the app carries one hash tag, so that every script and transaction,
whichever keys it touches together, finds them in one slot (a cluster refuses one that spans slots); and
no script makes up a key name of its own (a cluster routes a script by the keys it declares)."""

from __future__ import annotations

import inspect
import re
from importlib.resources import files

import pytest
from redis.cluster import key_slot

from bigscreen.jobs import leader, resync
from bigscreen.live import trust
from bigscreen.live.keys import Keys
from bigscreen.process.settings import Settings

NODES = "10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000"


def every_key(keys: Keys) -> dict[str, str]:
    """Every key name `Keys` makes, by what made it (sample arguments for the families)."""
    out: dict[str, str] = {}
    for name, member in inspect.getmembers(Keys):
        if name.startswith("_") or name in ("prefix", "is_duty", "not_counters", "all_pattern"):
            continue
        if isinstance(member, property):
            out[name] = getattr(keys, name)
        elif callable(member):
            params = list(inspect.signature(member).parameters)[1:]
            sample = [keys.area("3705") if p == "key" else f"{p}-370502" for p in params]
            out[name] = getattr(keys, name)(*sample)
    out["limits window"] = f"{keys.limits}:LIMITER/login-pair/someone/10.0.0.9/5/1/minute"
    return out


def test_every_key_lands_in_the_one_slot_of_the_tag():
    settings = Settings(redis_cluster=NODES)
    keys = Keys(settings.key_prefix)
    names = every_key(keys)
    assert len(names) > 30, "every family of the key schema is here"
    slots = {what: key_slot(name.encode()) for what, name in names.items()}
    assert set(slots.values()) == {key_slot(b"{bs}")}, slots
    assert all(name.startswith("{bs}:") for name in names.values())


def test_on_one_server_the_keys_keep_their_names():
    assert Settings().key_prefix == "bs:", "a single Redis's data dir keeps its keys"
    assert Keys(Settings().key_prefix).area("3705") == "bs:a:3705"


@pytest.mark.parametrize(("prefix", "made"), [("bs:", "{bs}:"), ("city-a:", "{city-a}:"), ("x", "{x}"),
                                               ("{shared}:bs:", "{shared}:bs:")])
def test_the_prefix_becomes_the_tag(prefix, made):
    assert Settings(redis_cluster=NODES, redis_prefix=prefix).key_prefix == made


def _scripts() -> dict[str, str]:
    lua = {f"live/{p.name}": p.read_text() for p in files("bigscreen.live").joinpath("lua").iterdir() if p.name.endswith(".lua")}
    lua |= {f"auth/{p.name}": p.read_text() for p in files("bigscreen.auth").joinpath("lua").iterdir() if p.name.endswith(".lua")}
    for module in (resync, leader, trust):
        lua |= {f"{module.__name__}.{n}": v for n, v in vars(module).items()
                if n.startswith("_") and n.isupper() and isinstance(v, str) and "redis.call" in v}
    return lua


# where a command's keys are: the first argument, both first ones, or all of them
TWO_KEYS = {"RENAME", "RENAMENX", "COPY", "SMOVE", "LMOVE", "RPOPLPUSH"}
ALL_KEYS = {"DEL", "UNLINK", "EXISTS", "MGET", "TOUCH", "SUNIONSTORE", "SINTERSTORE", "SDIFFSTORE"}
NO_KEYS = {"PUBLISH", "PING", "INFO", "TIME"}


def calls(source: str) -> list[tuple[str, list[str]]]:
    """Each `redis.call('CMD', a, b, ...)` of a Lua source as its command and its arguments' text."""
    out = []
    for match in re.finditer(r"redis\.call\(", source):
        depth, i, args, start = 1, match.end(), [], match.end()
        while depth:
            c = source[i]
            if c in "({[":
                depth += 1
            elif c in ")}]":
                depth -= 1
            elif c == "," and depth == 1:
                args.append(source[start:i].strip())
                start = i + 1
            i += 1
        args.append(source[start:i - 1].strip())
        out.append((args[0].strip("'\"").upper(), args[1:]))
    return out


def declared_names(source: str) -> set[str]:
    """Locals a script binds to its KEYS: `local k = KEYS[...]`, `local a, b = KEYS[1], KEYS[2]`,
    `for _, k in ipairs(KEYS)`."""
    bound = set()
    for names, values in re.findall(r"local\s+([\w\s,]+?)\s*=\s*([^\n]*)", source):
        for n, v in zip(names.split(","), values.split(","), strict=False):
            if v.strip().startswith("KEYS["):
                bound.add(n.strip())
    bound |= set(re.findall(r"for\s+\w+\s*,\s*(\w+)\s+in\s+ipairs\(KEYS\)", source))
    return bound


def test_scripts_name_only_the_keys_they_declare():
    scripts = _scripts()
    assert {"live/apply.lua", "live/field_work.lua", "live/gate.lua", "auth/session.lua",
            "bigscreen.jobs.resync._SWAP", "bigscreen.jobs.leader._RENEW", "bigscreen.live.trust._LOST"} <= set(scripts)
    for name, source in scripts.items():
        bound = declared_names(source)
        for command, args in calls(source):
            if command in NO_KEYS or not args:
                continue
            named = args if command in ALL_KEYS else args[:2] if command in TWO_KEYS else args[:1]
            for key in named:
                assert key.startswith("KEYS[") or key in bound, f"{name}: {command} on a key made in the script: {key}"


def test_the_check_finds_a_key_made_in_a_script():
    made = """
for _, k in ipairs(KEYS) do
  redis.call('RENAME', k, ARGV[1] .. 'rs:old:' .. k)
end"""
    assert calls(made) == [("RENAME", ["k", "ARGV[1] .. 'rs:old:' .. k"])]
    assert declared_names(made) == {"k"}
