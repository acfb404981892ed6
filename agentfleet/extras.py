"""Optional extras: a command whose extra is not installed says which one, in one line."""

from __future__ import annotations

import importlib.util

import typer

#: The module each extra brings, and what it is for.
EXTRA_MODULES = {"infra": "pulumi", "local": "matplotlib"}


def require_extra(extra: str, command: str) -> None:
    """Exit 2 with `pip install 'agentfleet[EXTRA]'` when `extra`'s module is not importable."""
    module = EXTRA_MODULES[extra]
    try:
        missing = importlib.util.find_spec(module) is None
    except (ImportError, ValueError):
        missing = True
    if missing:
        hint = f"pip install 'agentfleet[{extra}]'"
        typer.echo(f"agentfleet: {command} needs the {extra} extra: {hint}", err=True)
        raise typer.Exit(2)
