"""Prometheus metrics for /metrics. Names (all prefixed `agentfleet_`):

- `messages_received_total`, `messages_succeeded_total`, `messages_failed_total` (the handler
  raised), `messages_dead_lettered_total`, `lease_extensions_total`  — counters
- `messages_in_flight` — gauge: messages whose handler is running
- `handler_duration_seconds` — histogram of handler run time
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from agentfleet.agent.backends.base import Message
from agentfleet.agent.middleware.base import DEAD_LETTERED, SUCCEEDED, Call, Middleware, Outcome, when_settled


class Metrics(Middleware):
    """Counts outcomes; owns its own registry so several workers (tests) never collide."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.received = Counter("agentfleet_messages_received", "Messages leased from the queue", registry=r)
        self.succeeded = Counter("agentfleet_messages_succeeded", "Handler returned; acked", registry=r)
        self.failed = Counter("agentfleet_messages_failed", "Handler raised", registry=r)
        self.dead_lettered = Counter(
            "agentfleet_messages_dead_lettered", "Messages moved to the dead-letter queue", registry=r
        )
        self.in_flight = Gauge("agentfleet_messages_in_flight", "Handlers running now", registry=r)
        self.duration = Histogram(
            "agentfleet_handler_duration_seconds",
            "Handler run time",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600),
            registry=r,
        )
        self.lease_extensions = Counter(
            "agentfleet_lease_extensions", "Leases extended while a message was held", registry=r
        )

    def after_receive(self, messages: Sequence[Message]) -> None:
        self.received.inc(len(messages))

    def process(self, message: Message, call_next: Call) -> Outcome:
        self.in_flight.inc()
        try:
            outcome = call_next(message)
        finally:
            self.in_flight.dec()
        if outcome.handler_seconds:
            self.duration.observe(outcome.handler_seconds)
        when_settled(outcome, self._count)
        return outcome

    def _count(self, outcome: Outcome) -> None:
        if outcome.result == SUCCEEDED:
            self.succeeded.inc()
        elif outcome.error is not None:
            self.failed.inc()
        if outcome.result == DEAD_LETTERED:
            self.dead_lettered.inc()

    def extended(self) -> None:
        self.lease_extensions.inc()
