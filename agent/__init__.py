"""The agentfleet runtime: what runs inside every agent container.

A handler needs two names, both importable from here:

    from agentfleet.agent import Context, PermanentError

    def handle(message, ctx: Context) -> None:
        if not message.body:
            raise PermanentError("empty message")   # dead-letter now, with this reason
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentfleet.agent.context import Context
    from agentfleet.agent.errors import PermanentError

__all__ = ["Context", "PermanentError"]

_HOMES = {"Context": "agentfleet.agent.context", "PermanentError": "agentfleet.agent.errors"}


def __getattr__(name: str) -> Any:
    # Loaded on first use: the infrastructure imports agentfleet.agent.contract without the runtime.
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'agentfleet.agent' has no attribute {name!r}")
