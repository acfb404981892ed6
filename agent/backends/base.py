"""The small queue-backend interface every broker implements (SQLite, SQS, Service Bus, Pub/Sub).

Modelled on dramatiq's broker and huey's storage: a handful of verbs, nothing backend-specific
above this line. The worker only ever talks to a `QueueBackend`; leases, retries, dead letters
and drain are expressed with these verbs alone.

Semantics every backend must honour (tests/runtime/contract.py checks each one):

- `receive` leases up to `max_messages` for the backend's visibility timeout; a leased message is
  invisible to other consumers until acked, released, or the lease expires.
- `delivery_count` starts at 1 and grows by one on every delivery of the same message.
- `extend_lease` pushes the lease's end to now + `seconds`.
- `release` ends the lease early: the message is visible again after `delay_seconds` (0 = now).
  This is how retries back off; the failed delivery counts.
- `give_back` returns a message that was not processed (an unstarted message on drain, or one
  whose `ctx.once` key another delivery holds) after `delay_seconds`. Where the backend keeps the
  count (SQLite) this is not a delivery; where the broker counts receives itself (SQS, Service
  Bus, Pub/Sub) it is one, which docs/backends.md says.
- `dead_letter` moves the message to the dead-letter queue with `reason`, and removes it.
- `ack` removes the message for good.
- `stats` reports waiting / in-flight / dead-lettered counts where the broker can tell.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any


class BackendError(RuntimeError):
    """A broker call failed in a way that may pass (connection, throttling): retry it."""


class LeaseLost(RuntimeError):
    """The message's lease ended (expired or taken by another consumer); its ack would not count."""


@dataclass
class Message:
    """One leased delivery of a message."""

    id: str
    body: bytes
    delivery_count: int
    #: The backend's handle for this delivery (SQS receipt handle, Service Bus message,
    #: Pub/Sub ack id, SQLite lease token). Opaque above the backend.
    receipt: Any = None
    attributes: dict[str, str] = field(default_factory=dict)
    #: Unix time the message was first enqueued, when the broker says.
    enqueued_at: float | None = None

    def text(self) -> str:
        return self.body.decode("utf-8")


@dataclass(frozen=True)
class QueueStats:
    """Counts the autoscaler and operators look at. None where the broker cannot tell cheaply."""

    waiting: int
    in_flight: int
    dead_lettered: int | None = None


class QueueBackend(abc.ABC):
    """A work queue with leases and a dead-letter queue."""

    #: Backend name as in AGENTFLEET_BACKEND.
    name: str = ""
    #: True where the broker itself dead-letters after max deliveries (SQS redrive, Service Bus
    #: max delivery count, Pub/Sub dead-letter policy); False where the runtime must (SQLite).
    native_dead_letter: bool = False
    #: The lease a receive takes, in seconds.
    visibility_timeout: int = 30
    #: The most messages the worker asks one receive for (SQS's limit is 10).
    max_receive_batch: int = 10

    @abc.abstractmethod
    def receive(self, max_messages: int, wait_seconds: float) -> list[Message]:
        """Lease up to `max_messages`, waiting up to `wait_seconds` for the first (long poll)."""

    @abc.abstractmethod
    def ack(self, message: Message) -> None:
        """Delete a finished message. Raises LeaseLost if the lease is gone."""

    @abc.abstractmethod
    def extend_lease(self, message: Message, seconds: int) -> None:
        """Keep a message leased for `seconds` more from now. Raises LeaseLost if gone."""

    @abc.abstractmethod
    def release(self, message: Message, delay_seconds: int = 0) -> None:
        """Give a message back: visible again after `delay_seconds`."""

    def give_back(self, message: Message, delay_seconds: int = 0) -> None:
        """Return a message that was not processed: visible again after `delay_seconds`. The
        default releases it, which the broker counts as a delivery where it counts receives."""
        self.release(message, delay_seconds)

    @abc.abstractmethod
    def dead_letter(self, message: Message, reason: str) -> None:
        """Move a message to the dead-letter queue with a reason, now."""

    @abc.abstractmethod
    def send(self, body: bytes, attributes: dict[str, str] | None = None) -> str:
        """Enqueue one message; returns its id. Used by tools, tests and the local fleet."""

    def stats(self) -> QueueStats:
        """Waiting, in-flight and dead-lettered counts. Override where the broker can tell."""
        raise NotImplementedError(f"{self.name} backend cannot report queue stats")

    def ping(self) -> None:
        """Raise if the broker is unreachable; used by /ready. The default trusts the broker."""
        return None

    def close(self) -> None:
        """Release connections. The default holds none."""
        return None
