"""`ctx`, the second argument of every handler: the message plus the fleet's shared resources."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentfleet.agent import contract
from agentfleet.agent.state.base import Once

if TYPE_CHECKING:
    import structlog

    from agentfleet.agent.backends.base import Message
    from agentfleet.agent.bucket.base import Bucket
    from agentfleet.agent.state.base import StateStore


class MissingResource(RuntimeError):
    """A handler used ctx.state / ctx.bucket / ctx.cache on a fleet that has none."""


@dataclass
class Resources:
    """What every message's context shares: opened once per agent."""

    state: StateStore | None = None
    bucket: Bucket | None = None
    cache_url: str = ""
    #: How long a ctx.once claim lasts without renewal (it is renewed every third of that while
    #: its effect runs); a crashed agent's claim is taken over after this long. The agent sets it
    #: to the lease the broker really grants (Service Bus caps locks at 300 s, Pub/Sub ack
    #: deadlines at 600 s), so a claim lapses when the message's lease would.
    once_claim_seconds: float = 300.0
    _cache: Any = field(default=None, repr=False)

    def cache(self) -> Any:
        if not self.cache_url:
            raise MissingResource(f"ctx.cache: this fleet has no cache ({contract.CACHE} is not set)")
        if self._cache is None:
            from agentfleet.agent.cache import open_cache  # redis (the `cache` extra) only when first used

            self._cache = open_cache(self.cache_url)
        return self._cache

    def close(self) -> None:
        for resource in (self.state, self.bucket):
            if resource is not None:
                resource.close()


@dataclass
class Context:
    """Per-message context: `ctx.message`, `ctx.state`, `ctx.bucket`, `ctx.cache`, `ctx.once(key)`,
    `ctx.logger` (a structlog logger bound to the message id and delivery count)."""

    message: Message
    resources: Resources
    base_logger: structlog.typing.FilteringBoundLogger

    @property
    def logger(self) -> structlog.typing.FilteringBoundLogger:
        """A logger bound to this message's id (bound on first use: most handlers never log)."""
        return self.base_logger.bind(message_id=self.message.id, delivery_count=self.message.delivery_count)

    @property
    def state(self) -> StateStore:
        if self.resources.state is None:
            raise MissingResource(f"ctx.state: this fleet has no state store ({contract.STATE} is not set)")
        return self.resources.state

    @property
    def bucket(self) -> Bucket:
        if self.resources.bucket is None:
            raise MissingResource(f"ctx.bucket: this fleet has no bucket ({contract.BUCKET} is not set)")
        return self.resources.bucket

    @property
    def cache(self) -> Any:
        """A redis.Redis client for AGENTFLEET_CACHE."""
        return self.resources.cache()

    def once(self, key: str) -> Once:
        """`with ctx.once(key) as first: if first: apply_effect()` — see agent.state.base.Once."""
        return Once(
            self.state,
            key,
            self.resources.once_claim_seconds,
            holder=self.message.id,
            delivery=self.message.delivery_count,
        )
