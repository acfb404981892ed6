"""Layers around the handler: outcome log, metrics, lease extension, retries/dead-lettering."""

from __future__ import annotations

from agentfleet.agent.backends.base import QueueBackend
from agentfleet.agent.middleware.base import Call, Middleware, Outcome, chain
from agentfleet.agent.middleware.lease import LeaseKeeper
from agentfleet.agent.middleware.logs import OutcomeLog
from agentfleet.agent.middleware.metrics import Metrics
from agentfleet.agent.middleware.retries import Retries

__all__ = [
    "Call",
    "LeaseKeeper",
    "Metrics",
    "Middleware",
    "Outcome",
    "OutcomeLog",
    "Retries",
    "chain",
    "default_layers",
]


def default_layers(
    backend: QueueBackend,
    *,
    visibility_timeout: int,
    max_receive_count: int,
    min_backoff: float = 1.0,
    max_backoff: float = 300.0,
) -> tuple[list[Middleware], Metrics]:
    """The runtime's layers, outermost first: the outcome log sees the final result, metrics
    count it, the lease keeper holds the lease until settlement, retries settle."""
    metrics = Metrics()
    # Renew on the lease the broker really grants: Service Bus caps a lock at 300 s and Pub/Sub an
    # ack deadline at 600 s, so a longer configured visibility is served by renewing more often,
    # not by renewing after the lock is already gone.
    lease = min(visibility_timeout, backend.visibility_timeout)
    outcome_log = OutcomeLog()
    layers: list[Middleware] = [
        outcome_log,
        metrics,
        LeaseKeeper(backend, lease, on_extended=metrics.extended),
        Retries(
            backend,
            max_receive_count,
            min_backoff=min_backoff,
            max_backoff=max_backoff,
            settle_together=outcome_log.together,
        ),
    ]
    return layers, metrics
