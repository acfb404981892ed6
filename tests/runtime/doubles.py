"""One test double for the runtime's tests: a real SQLite queue whose broker calls can be scripted.

Everything not scripted is the real `SqliteBackend`, so leases, counts and dead letters behave as
in production. What a test can script (all off by default):

- `extend_lag`: seconds each lease extension takes (a slow broker: renewals land late).
- `receive_errors`: errors the next receives raise, one per receive (an unreachable broker).
- `ack_errors`: errors the next acks get, one per ack, whether sent alone or in a batch (a
  connection reset, a lease the broker no longer holds). A failed ack deletes nothing.
- `entry_errors`: errors by message body, for that message's next acks in a batch.
- `call_errors`: errors whole `ack_batch` calls raise, one per call.
- `gate`: cleared, `ack_batch` waits for it (a broker sitting on a delete).

It records `receives` (asked, got) for every receive that returned messages, and `batches`
(the bodies of every `ack_batch` call).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agentfleet.agent.backends.base import Message
from agentfleet.agent.backends.sqlite import SqliteBackend


class ScriptedQueue(SqliteBackend):
    def __init__(self, path: str | Path, visibility_timeout: int = 30, max_receive_count: int = 5) -> None:
        super().__init__(path, visibility_timeout, max_receive_count)
        self.extend_lag = 0.0
        self.receive_errors: list[BaseException] = []
        self.ack_errors: list[BaseException] = []
        self.entry_errors: dict[bytes, list[BaseException]] = {}
        self.call_errors: list[BaseException] = []
        self.gate = threading.Event()
        self.gate.set()
        self.receives: list[tuple[int, int]] = []
        self.batches: list[list[bytes]] = []
        self._script = threading.Lock()

    def _next_error(self, message: Message, in_batch: bool) -> BaseException | None:
        with self._script:
            errors = self.entry_errors.get(message.body) if in_batch else None
            if errors:
                return errors.pop(0)
            if self.ack_errors:
                return self.ack_errors.pop(0)
        return None

    def receive(self, max_messages: int, wait_seconds: float) -> list[Message]:
        with self._script:
            error = self.receive_errors.pop(0) if self.receive_errors else None
        if error is not None:
            raise error
        got = super().receive(max_messages, wait_seconds)
        if got:
            self.receives.append((max_messages, len(got)))
        return got

    def extend_lease(self, message: Message, seconds: int) -> None:
        if self.extend_lag:
            time.sleep(self.extend_lag)
        super().extend_lease(message, seconds)

    def ack(self, message: Message) -> None:
        error = self._next_error(message, in_batch=False)
        if error is not None:
            raise error
        super().ack(message)

    def ack_batch(self, messages: Sequence[Message]) -> list[BaseException | None]:
        self.gate.wait(10)
        self.batches.append([m.body for m in messages])
        with self._script:
            call_error = self.call_errors.pop(0) if self.call_errors else None
        if call_error is not None:
            raise call_error
        results: list[BaseException | None] = [self._next_error(m, in_batch=True) for m in messages]
        sent = [i for i, error in enumerate(results) if error is None]
        for i, answer in zip(sent, super().ack_batch([messages[i] for i in sent]), strict=True):
            results[i] = answer
        return results

    def __repr__(self) -> str:
        return f"ScriptedQueue({self.path!r})"


def scripted(tmp_path: Path, **kwargs: Any) -> ScriptedQueue:
    """A fresh scripted queue in `tmp_path`."""
    return ScriptedQueue(tmp_path / "queue.db", **kwargs)
