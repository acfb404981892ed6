"""Termination watchers: the cloud's notice that this instance is going away.

A watcher turns the notice (AWS ASG lifecycle state via IMDSv2, Azure Scheduled Events) into the
same drain a SIGTERM starts, and is told when the drain is over so it can complete the lifecycle
action / approve the event. Implementations live next to this file (`aws.py`, `azure.py`).
"""

from __future__ import annotations

import abc
from collections.abc import Callable


class TerminationWatcher(abc.ABC):
    """Watches for a termination notice in the background."""

    @abc.abstractmethod
    def start(self, on_terminate: Callable[[], None]) -> None:
        """Begin watching; call `on_terminate()` once when termination is announced."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop watching (the agent is exiting)."""

    @abc.abstractmethod
    def on_drained(self) -> None:
        """The agent finished draining: complete the action / approve the event."""


class NoWatcher(TerminationWatcher):
    """AGENTFLEET_LIFECYCLE=none: SIGTERM alone starts the drain (Kubernetes, the local fleet)."""

    def start(self, on_terminate: Callable[[], None]) -> None:
        return None

    def stop(self) -> None:
        return None

    def on_drained(self) -> None:
        return None
