"""One JSON log line per message outcome: message id, delivery count, duration (handler start to
settlement), result."""

from __future__ import annotations

import time

from agentfleet.agent.backends.base import Message
from agentfleet.agent.logging import get_logger
from agentfleet.agent.middleware.base import SUCCEEDED, Call, Middleware, Outcome, when_settled


class OutcomeLog(Middleware):
    def __init__(self) -> None:
        self.log = get_logger(component="worker")

    def process(self, message: Message, call_next: Call) -> Outcome:
        start = time.perf_counter()
        outcome = call_next(message)
        # Written when the delivery is really settled: a batched ack is logged once SQS answered.
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
