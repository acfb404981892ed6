"""Layers around the handler: outcome log, metrics, lease extension, retries/dead-lettering."""

from agent.middleware.base import Call, Middleware, Outcome, chain
from agent.middleware.lease import LeaseKeeper
from agent.middleware.logs import OutcomeLog
from agent.middleware.metrics import Metrics
from agent.middleware.retries import Retries

__all__ = ["Call", "LeaseKeeper", "Metrics", "Middleware", "Outcome", "OutcomeLog", "Retries", "chain"]
