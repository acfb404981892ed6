"""`open_watcher(settings)`: the termination watcher for AGENTFLEET_LIFECYCLE, imported lazily.

none -> NoWatcher, aws-asg -> agent.lifecycle.aws, azure-scheduled-events -> agent.lifecycle.azure.
Each cloud module exposes `from_settings(settings) -> TerminationWatcher`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from agentfleet.agent.lifecycle.base import NoWatcher, TerminationWatcher

if TYPE_CHECKING:
    from agentfleet.agent.settings import Settings

WATCHER_MODULES = {"aws-asg": "aws", "azure-scheduled-events": "azure"}

__all__ = ["NoWatcher", "TerminationWatcher", "open_watcher"]


def open_watcher(settings: Settings) -> TerminationWatcher:
    if settings.lifecycle == "none":
        return NoWatcher()
    module = importlib.import_module(f"agentfleet.agent.lifecycle.{WATCHER_MODULES[settings.lifecycle]}")
    watcher: TerminationWatcher = module.from_settings(settings)
    return watcher
