"""Operator verbs on a deployed fleet's queues: counts, agents, dead letters, and sending work.

An agent needs `QueueBackend` (receive, ack, lease). An operator needs other verbs: how many
messages wait, what sits in the dead-letter queue and why, move dead letters back, send a batch.
Each broker implements `QueueAdmin` in `agent/backends/admin_<backend>.py`, built on the same SDK
clients and constants as the runtime's backend; `open_admin(outputs)` imports only the one the
stack outputs name, so only that cloud's SDK is ever loaded.

The dead-letter verbs are small on purpose: `take` leases a batch from the dead-letter queue,
`requeue` sends copies to the work queue and says which ones the broker confirmed, `remove`
deletes dead letters, `give_back` returns leased ones. The redrive order that loses nothing
(remove a dead letter only after its copy is confirmed) is written once, above the backends
(agentfleet/ops/redrive.py).
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Attribute carried by a redriven copy: the dead letter's stable key, so the copy can be traced
#: back (and a handler that records it can tell a duplicate).
REDRIVE_ID_ATTRIBUTE = "agentfleet-redrive-id"

#: Which admin module serves which `cloud` stack output.
ADMIN_MODULES = {
    "aws": "admin_sqs",
    "azure": "admin_servicebus",
    "gcp": "admin_pubsub",
    "local": "admin_sqlite",
}


class OutputsError(ValueError):
    """The stack outputs lack what this cloud's commands need; the message names the keys."""


@dataclass(frozen=True)
class QueueCounts:
    """What the broker can tell cheaply; None where it cannot (Pub/Sub has no count call)."""

    waiting: int | None
    in_flight: int | None
    dead_lettered: int | None
    oldest_age_seconds: float | None = None


@dataclass(frozen=True)
class AgentCounts:
    """Agents the fleet wants, has in service, and has busy; None where the cloud cannot tell."""

    desired: int | None = None
    in_service: int | None = None
    busy: int | None = None


@dataclass
class DeadLetter:
    """One message in the dead-letter queue.

    `key` identifies this dead-letter entry for as long as it sits there (SQS: its message id in
    the dead-letter queue; Service Bus: its sequence number; Pub/Sub: its message id on the
    dead-letter topic; SQLite: its row id). A copy sent back carries it in REDRIVE_ID_ATTRIBUTE.
    """

    key: str
    body: bytes
    reason: str
    delivery_count: int | None
    attributes: dict[str, str] = field(default_factory=dict)
    #: Unix time the broker says the message was enqueued (for dead letters: where known, when
    #: it reached the dead-letter queue).
    enqueued_at: float | None = None
    #: The broker's handle while this entry is taken (receipt handle, locked message, ack id).
    receipt: Any = None

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


#: Progress of a broker-side move: (moved so far, total to move or None).
MoveProgress = Callable[[int, int | None], None]


class QueueAdmin(abc.ABC):
    """One fleet's work queue and dead-letter queue, seen by an operator."""

    #: Backend name as in AGENTFLEET_BACKEND.
    name: str = ""
    #: How many dead letters one `take` asks for.
    batch_size: int = 10

    @abc.abstractmethod
    def counts(self) -> QueueCounts:
        """Waiting, in flight, dead-lettered, age of the oldest waiting message."""

    def agents(self) -> AgentCounts:
        """Desired / in service / busy agents. The default: the cloud cannot tell."""
        return AgentCounts()

    @abc.abstractmethod
    def peek_dead_letters(self, limit: int) -> list[DeadLetter]:
        """Up to `limit` dead letters, left where they are (nothing is removed or kept leased)."""

    @abc.abstractmethod
    def take_dead_letters(self, max_messages: int) -> list[DeadLetter]:
        """Lease up to `max_messages` dead letters: hidden from other takers until removed or
        given back. An empty list means none is left to take."""

    @abc.abstractmethod
    def requeue(self, letters: Sequence[DeadLetter]) -> list[bool]:
        """Send a copy of each to the work queue, with its attributes and REDRIVE_ID_ATTRIBUTE.
        Per letter: True once the broker confirmed the copy, False if it did not."""

    @abc.abstractmethod
    def remove_dead_letters(self, letters: Sequence[DeadLetter]) -> list[bool]:
        """Delete taken dead letters for good. Per letter: True once the broker confirmed."""

    @abc.abstractmethod
    def give_back(self, letters: Sequence[DeadLetter]) -> None:
        """Return taken dead letters to the dead-letter queue, visible again now."""

    @abc.abstractmethod
    def send_batch(self, bodies: Sequence[bytes]) -> int:
        """Enqueue every body on the work queue in as few calls as the broker allows; returns
        how many the broker confirmed (raises if any failed)."""

    def move_all_dead_letters(self, on_progress: MoveProgress) -> int | None:
        """Move every dead letter back with the broker's own move task, returning how many moved.
        None where the broker has no such task (the caller then redrives message by message)."""
        return None

    def close(self) -> None:
        return None


def peek_by_holding(
    admin: QueueAdmin, receive: Callable[[int], list[DeadLetter]], limit: int
) -> list[DeadLetter]:
    """A look at up to `limit` dead letters on a broker without a browse call (SQS, Pub/Sub):
    receive batches, each held briefly so the next receive returns others, until one brings
    nothing new; then give every one back, visible again at once."""
    seen: dict[str, DeadLetter] = {}
    held: list[DeadLetter] = []
    try:
        while len(seen) < limit:
            batch = receive(min(admin.batch_size, limit - len(seen)))
            held.extend(batch)
            fresh = [m for m in batch if m.key not in seen]
            if not fresh:
                break
            seen.update((m.key, m) for m in fresh)
    finally:
        admin.give_back(held)
    return list(seen.values())


def copy_attributes(attributes: Mapping[str, str], key: str, drop: Sequence[str] = ()) -> dict[str, str]:
    """The attributes a redriven copy carries: the original ones less `drop` (dead-letter
    bookkeeping such as the reason), plus the dead letter's key."""
    kept = {k: v for k, v in attributes.items() if k not in drop and v}
    kept[REDRIVE_ID_ATTRIBUTE] = key
    return kept


def require(outputs: Mapping[str, Any], cloud: str, *keys: str) -> list[str]:
    """The values of `keys` in the stack outputs; a missing or empty one is an OutputsError
    naming every missing key."""
    missing = [k for k in keys if not outputs.get(k)]
    if missing:
        raise OutputsError(
            f"the stack outputs have no {', '.join(missing)}: the {cloud} commands need "
            f"{', '.join(keys)} (what `pulumi stack output --json` prints for an agentfleet stack)"
        )
    return [str(outputs[k]) for k in keys]


def open_admin(outputs: Mapping[str, Any]) -> QueueAdmin:
    """The admin for the cloud the outputs name (`cloud`), built from the outputs alone."""
    cloud = str(outputs.get("cloud") or "")
    module_name = ADMIN_MODULES.get(cloud)
    if module_name is None:
        raise OutputsError(
            f"the stack outputs say cloud={cloud!r}; expected one of {', '.join(ADMIN_MODULES)}"
        )
    module = importlib.import_module(f"agentfleet.agent.backends.{module_name}")
    admin: QueueAdmin = module.from_outputs(outputs)
    return admin
