"""Helpers for the operator commands' tests (fixtures are in tests/conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from agentfleet.agent.backends.admin import DeadLetter, QueueAdmin
from agentfleet.cli import app

__all__ = ["Interrupted", "StopAfter", "invoke", "write_outputs"]

runner = CliRunner()


def invoke(*args: str, stdin: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=stdin)


def write_outputs(path: Path, outputs: dict[str, Any]) -> str:
    path.write_text(json.dumps(outputs))
    return str(path)


class Interrupted(RuntimeError):
    """Stands for Ctrl-C or a dropped connection in the middle of a redrive."""


class StopAfter:
    """Wraps a QueueAdmin; its `remove_dead_letters` raises after `batches` successful calls, so a
    redrive is cut off right after the work queue confirmed copies but before their dead letters
    are removed: the worst moment to be interrupted."""

    def __init__(self, admin: QueueAdmin, batches: int) -> None:
        self._admin = admin
        self._left = batches

    def __getattr__(self, name: str) -> Any:
        return getattr(self._admin, name)

    def remove_dead_letters(self, letters: Sequence[DeadLetter]) -> list[bool]:
        if self._left == 0:
            raise Interrupted("interrupted between the copies' confirmation and the removal")
        self._left -= 1
        return self._admin.remove_dead_letters(letters)
