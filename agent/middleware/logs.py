"""One JSON log line per message outcome: message id, delivery count, duration (handler start to
settlement), result.

Lines of outcomes settled together (a batch of acks the broker confirmed in one call) are written
with one write and one flush instead of one each: on a fast handler that write was the agent's
largest single cost. Every line is still written, in order, before the batch's settling returns.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from typing import IO, Any

import structlog

from agentfleet.agent.backends.base import Message
from agentfleet.agent.middleware.base import SUCCEEDED, Call, Middleware, Outcome, when_settled


class _Lines:
    """A structlog logger (the PrintLogger interface) that writes each rendered line at once, or,
    inside `together()` on the same thread, collects them and writes them in one go at its end."""

    _write_lock = threading.Lock()

    def __init__(self, file: IO[str]) -> None:
        self._file = file
        self._local = threading.local()

    def msg(self, message: str) -> None:
        pending: list[str] | None = getattr(self._local, "pending", None)
        if pending is not None:
            pending.append(message)
            return
        self._emit([message])

    info = warning = error = debug = critical = exception = log = msg

    def _emit(self, lines: list[str]) -> None:
        if not lines:
            return
        with self._write_lock:
            self._file.write("\n".join(lines) + "\n")
            self._file.flush()

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        if getattr(self._local, "pending", None) is not None:  # nested: the outer one writes
            yield
            return
        self._local.pending = []
        try:
            yield
        finally:
            lines, self._local.pending = self._local.pending, None
            self._emit(lines)


class OutcomeLog(Middleware):
    def __init__(self) -> None:
        # Rendered by the agent's structlog configuration (JSON lines), written by `_Lines`.
        self._lines = _Lines(sys.stdout)
        self.log: Any = structlog.wrap_logger(self._lines).bind(component="worker")

    def together(self) -> contextlib.AbstractContextManager[None]:
        """Outcome lines logged inside this block on this thread are written in one write."""
        return self._lines.together()

    def process(self, message: Message, call_next: Call) -> Outcome:
        start = time.perf_counter()
        outcome = call_next(message)
        # Written when the delivery is really settled: a batched ack is logged once the broker answered.
        when_settled(outcome, lambda final: self._write(message, final, start))
        return outcome

    def _write(self, message: Message, outcome: Outcome, start: float) -> None:
        fields: dict[str, object] = {
            "message_id": message.id,
            "delivery_count": message.delivery_count,
            "duration_ms": round((time.perf_counter() - start) * 1000, 3),
            "result": outcome.result,
        }
        if outcome.error is not None:
            fields["error"] = f"{type(outcome.error).__name__}: {outcome.error}"[:500]
        if outcome.retry_delay is not None:
            fields["retry_in_s"] = outcome.retry_delay
        if outcome.reason is not None:
            fields["reason"] = outcome.reason
        if outcome.result == SUCCEEDED:
            self.log.info("message", **fields)
        else:
            self.log.warning("message", **fields)
