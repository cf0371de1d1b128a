"""README.md's table of commands against the `bigscreen` command itself: every command is in the
table with every option its --help offers (and the defaults the table shows), and every command
in the table exists. A change to a command's --help that leaves the README behind fails here."""

from __future__ import annotations

import re
from pathlib import Path

import click
from click.testing import CliRunner

from bigscreen.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"
SHARED_LINE = "Every command that works on a data dir also takes"


def commands(group: click.Group = main, path: str = "bigscreen") -> dict[str, click.Command]:
    found = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.update(commands(command, f"{path} {name}"))
        else:
            found[f"{path} {name}"] = command
    return found


def table() -> dict[str, str]:
    """README's command rows: the command's words → the whole row."""
    section = README.read_text().split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if line.startswith("| `bigscreen"):
            usage = line.split("`")[1]
            words = [w for w in usage.split() if re.fullmatch(r"[a-z][a-z0-9-]*", w)]
            rows[" ".join(["bigscreen"] + words[1:])] = line
    return rows


def shared_options() -> str:
    return next((line for line in README.read_text().splitlines() if line.startswith(SHARED_LINE)), "")


def options(command: click.Command) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option) and not p.hidden]


def test_every_command_is_in_the_readme_and_every_row_is_a_command():
    rows, made = table(), commands()
    assert sorted(set(made) - set(rows)) == [], "commands missing from README.md's table"
    assert sorted(set(rows) - set(made)) == [], "rows of README.md's table that are no command"


def test_every_option_is_in_its_row_with_the_default_it_shows():
    rows, shared = table(), shared_options()
    undocumented, wrong_default = [], []
    for path, command in commands().items():
        row = rows.get(path, "")
        for option in options(command):
            flag = max(option.opts, key=len)
            if flag not in row and flag not in shared:
                undocumented.append(f"{path} {flag}")
            shown = re.search(re.escape(flag) + r" ([^\s\]]+)\]", row)
            placeholder = shown and re.fullmatch(r"[A-Z]+|\.\.\.|…", shown.group(1))
            if shown and not placeholder and option.default is not None and shown.group(1) != str(option.default):
                wrong_default.append(f"{path} {flag}: README shows {shown.group(1)}, --help says {option.default}")
    assert undocumented == []
    assert wrong_default == []


def test_every_help_answers():
    runner = CliRunner()
    for path in commands():
        result = runner.invoke(main, path.split()[1:] + ["--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output
