"""Real SQLite queues with one behaviour changed, for tests of what the runtime does around the
broker (health checks, pings): the queue itself is the real backend."""

from __future__ import annotations

from pathlib import Path

from agentfleet.agent.backends.sqlite import SqliteBackend


class UnreachableBroker(SqliteBackend):
    """A broker whose ping always fails, as one behind a broken network would."""

    def ping(self) -> None:
        raise ConnectionError("no route to broker")


class CountingBroker(SqliteBackend):
    """A broker whose ping can be made to fail (`down`), counting the pings."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.pings = 0
        self.down = False

    def ping(self) -> None:
        self.pings += 1
        if self.down:
            raise ConnectionError("broker unreachable")
