"""The registry of deployment targets: which exist, and where each one's record lives.

Like kombu's transport table, one line per target. A target's package defines `TARGET`
(providers/base.py says what it holds); importing it loads no cloud SDK. To add a target, write
its package and add its line here (docs/DESIGN.md, "Adding a target").
"""

from __future__ import annotations

import importlib
from functools import cache

from agentfleet.providers.base import FleetResources, Target

#: `agentfleet:cloud` value -> "module:attribute" of its `Target` record.
TARGETS: dict[str, str] = {
    "aws": "agentfleet.providers.aws:TARGET",
    "azure": "agentfleet.providers.azure:TARGET",
    "gcp": "agentfleet.providers.gcp:TARGET",
}


@cache
def target(name: str) -> Target:
    """The registered target `name`; KeyError names the registered ones."""
    if name not in TARGETS:
        raise KeyError(f"no target {name!r}; registered: {', '.join(TARGETS)}")
    module_name, _, attribute = TARGETS[name].partition(":")
    record = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(record, Target):
        raise TypeError(f"{TARGETS[name]} is a {type(record).__name__}, not a providers.base.Target")
    return record


__all__ = ["TARGETS", "FleetResources", "Target", "target"]
