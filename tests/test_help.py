"""`--help` reads like a command line's: a flag stands bare, an option's value shows a name, never
a Python type (`--chaos <bool>`, `--stack <str>` was what typer's rich panels printed)."""

from __future__ import annotations

import re
from typing import Any

import typer.main
from typer.testing import CliRunner

from agentfleet.cli import app

PYTHON_TYPE = re.compile(r"<(bool|str|int|float|path|file|list\[[a-z]+\]|[a-z]+ range)>")


def command_paths(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for name, sub in getattr(command, "commands", {}).items():
        paths += command_paths(sub, (*prefix, name))
    return paths


def test_no_help_text_shows_a_python_type_as_a_placeholder() -> None:
    paths = command_paths(typer.main.get_command(app))
    assert len(paths) > 15  # every command and group, not just the root
    runner = CliRunner()
    shown = {}
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, (path, result.output)
        options = [line for line in result.output.splitlines() if line.lstrip().startswith("-")]
        found = PYTHON_TYPE.findall("\n".join(options))
        if found:
            shown[" ".join(path)] = found
    assert shown == {}
