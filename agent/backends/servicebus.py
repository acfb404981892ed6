"""Azure Service Bus backend (azure-servicebus, azure-identity's DefaultAzureCredential).

Leases are peek-locks. What the SDK and service document, and what we do with it:

- Receive is `receive_messages(max_message_count, max_wait_time)` in PEEK_LOCK mode with
  `prefetch_count=0` (a prefetched message's lock runs while it sits in the client's buffer).
- The lock lasts the queue's `LockDuration` (at most 5 minutes). `renew_message_lock` restarts it
  at now + LockDuration; it cannot ask for a length, so `extend_lease(seconds)` renews and the
  caller must renew again before the lock ends. Renew early, at a fraction of the lock: a renewal
  sent at 299 s of a 300 s lock did not extend it (Azure/azure-service-bus#692). A renewal we
  know is too late (our lock end has passed) raises LeaseLost without asking.
- The SDK's `delivery_count` is the AMQP header's "number of prior unsuccessful delivery
  attempts": 0 on the first delivery (the Java SDK adds 1 itself, azure-sdk-for-java#11845).
  Ours counts deliveries, so it is that + 1.
- `complete_message` acks, `dead_letter_message(reason=, error_description=)` dead-letters, the
  queue's `MaxDeliveryCount` dead-letters natively (the dead-letter sub-queue).
- Release: Service Bus cannot abandon with a delay. `release(m, 0)` abandons (back at once, the
  delivery count grows: drain and immediate retries). `release(m, delay)` schedules a copy for
  now + delay (`schedule_messages`) carrying the original id and the deliveries so far in
  application properties, then completes the original, so retries really back off. The copy's
  native count starts again, so for copies the backend enforces the limit itself: a delivery
  whose count exceeds `max_receive_count` is dead-lettered on receipt with reason
  `MaxDeliveryCountExceeded`. Between schedule and complete a crash leaves both: a duplicate
  delivery, which at-least-once processing (and `ctx.once`) already absorbs.

Threads: the worker receives on its loop thread while handler threads settle and the lease
keeper renews. Receives are serialized with one lock and settlements / renewals with another, so
a renewal never waits behind a long poll: renewing while a receive is in progress is what the
SDK's own AutoLockRenewer does (a serialized design starved renewals of 2 s locks in our tests).
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from agentfleet.agent.backends.base import BackendError, LeaseLost, Message, QueueBackend, QueueStats

if TYPE_CHECKING:
    from agentfleet.agent.settings import Settings

#: Service Bus's longest lock.
MAX_LOCK_SECONDS = 300
#: Application properties the backend owns on scheduled retry copies.
ORIGINAL_ID_PROPERTY = "agentfleet-original-id"
DELIVERIES_PROPERTY = "agentfleet-deliveries"
_INTERNAL = frozenset({ORIGINAL_ID_PROPERTY, DELIVERIES_PROPERTY})

T = TypeVar("T")


@dataclass
class ServiceBusLease:
    """The received SDK message and when its lock ends (UTC)."""

    message: Any
    locked_until: dt.datetime


def _text(value: Any) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes | bytearray) else str(value)


def _body(raw: Any) -> bytes:
    body = raw.body
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    return b"".join(bytes(part) for part in body)


class ServiceBusBackend(QueueBackend):
    """One Service Bus queue through a ServiceBusClient (and optionally its admin client)."""

    name = "servicebus"
    native_dead_letter = True

    def __init__(
        self,
        client: Any,
        queue_name: str,
        *,
        admin: Any = None,
        visibility_timeout: int = 60,
        max_receive_count: int = 10,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        from azure.servicebus import ServiceBusReceiveMode

        if not queue_name:
            raise ValueError("AGENTFLEET_QUEUE is empty: the servicebus backend needs the queue name")
        self.client = client
        self.queue_name = queue_name
        self.admin = admin
        #: The queue's LockDuration; the lease keeper renews at a fraction of it.
        self.visibility_timeout = max(1, min(MAX_LOCK_SECONDS, int(visibility_timeout)))
        self.max_receive_count = max_receive_count
        self._clock = clock
        self._receive_lock = threading.Lock()
        self._settle_lock = threading.RLock()
        self._held: set[int] = set()
        self._receiver = client.get_queue_receiver(
            queue_name=queue_name, receive_mode=ServiceBusReceiveMode.PEEK_LOCK, prefetch_count=0
        )
        self._sender = client.get_queue_sender(queue_name=queue_name)

    # -- the verbs --------------------------------------------------------------------------

    def receive(self, max_messages: int, wait_seconds: float) -> list[Message]:
        count = max(1, int(max_messages))
        wait = max(0.05, wait_seconds)  # the SDK refuses max_wait_time <= 0
        raw = self._call(
            lambda: self._receiver.receive_messages(max_message_count=count, max_wait_time=wait),
            lock=self._receive_lock,
        )
        return [m for m in (self._message(r) for r in raw) if m is not None]

    def ack(self, message: Message) -> None:
        lease = self._lease(message)
        self._call(lambda: self._receiver.complete_message(lease.message), message)
        self._held.discard(id(lease))

    def extend_lease(self, message: Message, seconds: int) -> None:
        lease = self._lease(message)
        if self._clock() >= lease.locked_until:
            raise LeaseLost(
                f"Service Bus message {message.id}: lock ended before this renewal (renew earlier)"
            )
        until = self._call(lambda: self._receiver.renew_message_lock(lease.message), message)
        lease.locked_until = until if isinstance(until, dt.datetime) else lease.message.locked_until_utc

    def release(self, message: Message, delay_seconds: int = 0) -> None:
        lease = self._lease(message)
        try:
            if self._clock() >= lease.locked_until:
                pass  # the lock already ended: the broker gives the message back by itself
            elif delay_seconds <= 0:
                self._call(lambda: self._receiver.abandon_message(lease.message), message)
            else:
                self._schedule_copy(message, delay_seconds)
                self._call(lambda: self._receiver.complete_message(lease.message), message)
        except LeaseLost:
            pass  # the lock ended meanwhile: the message is back in the queue, as release asks
        self._held.discard(id(lease))

    def dead_letter(self, message: Message, reason: str) -> None:
        lease = self._lease(message)
        self._dead_letter_raw(lease.message, reason, message)
        self._held.discard(id(lease))

    def send(self, body: bytes, attributes: dict[str, str] | None = None) -> str:
        from azure.servicebus import ServiceBusMessage

        message_id = uuid.uuid4().hex
        properties: dict[str | bytes, Any] = {k: v for k, v in (attributes or {}).items()}
        outgoing = ServiceBusMessage(body, application_properties=properties, message_id=message_id)
        self._call(lambda: self._sender.send_messages(outgoing))
        return message_id

    def stats(self) -> QueueStats:
        """From the queue's runtime properties (needs the Manage right / Data Owner role).

        Service Bus counts locked messages as active and has no count of locks, so in_flight is
        the locks this agent holds, and waiting is the active count less those."""
        if self.admin is None:
            raise NotImplementedError("servicebus stats need a ServiceBusAdministrationClient")
        props = self._call(lambda: self.admin.get_queue_runtime_properties(self.queue_name))
        held = len(self._held)
        return QueueStats(
            waiting=max(0, int(props.active_message_count) - held),
            in_flight=held,
            dead_lettered=int(props.dead_letter_message_count),
        )

    def ping(self) -> None:
        self._call(lambda: self._receiver.peek_messages(max_message_count=1))

    def close(self) -> None:
        for closeable in (self._receiver, self._sender, self.client, self.admin):
            close = getattr(closeable, "close", None)
            if close is not None:
                close()

    # -- helpers ----------------------------------------------------------------------------

    def _message(self, raw: Any) -> Message | None:
        props = {_text(k): _text(v) for k, v in (raw.application_properties or {}).items()}
        carried = int(props.get(DELIVERIES_PROPERTY, "0") or 0)
        delivery_count = carried + int(raw.delivery_count or 0) + 1
        message_id = props.get(ORIGINAL_ID_PROPERTY) or _text(raw.message_id)
        message = Message(
            id=message_id,
            body=_body(raw),
            delivery_count=delivery_count,
            receipt=ServiceBusLease(raw, raw.locked_until_utc),
            attributes={k: v for k, v in props.items() if k not in _INTERNAL},
            enqueued_at=raw.enqueued_time_utc.timestamp() if raw.enqueued_time_utc else None,
        )
        if carried and delivery_count > self.max_receive_count:
            # A scheduled retry copy past the limit: the broker's own count restarted on the copy.
            self._dead_letter_raw(
                raw,
                "MaxDeliveryCountExceeded",
                message,
                f"delivered {delivery_count - 1} times (limit {self.max_receive_count}) across retries",
            )
            return None
        self._held.add(id(message.receipt))
        return message

    def _schedule_copy(self, message: Message, delay_seconds: int) -> None:
        from azure.servicebus import ServiceBusMessage

        properties: dict[str | bytes, Any] = {k: v for k, v in message.attributes.items()}
        properties[ORIGINAL_ID_PROPERTY] = message.id
        properties[DELIVERIES_PROPERTY] = str(message.delivery_count)
        copy = ServiceBusMessage(message.body, application_properties=properties, message_id=uuid.uuid4().hex)
        at = self._clock() + dt.timedelta(seconds=delay_seconds)
        self._call(lambda: self._sender.schedule_messages(copy, at))

    def _dead_letter_raw(self, raw: Any, reason: str, message: Message, description: str = "") -> None:
        short = reason.splitlines()[0][:256] if reason else "unspecified"
        self._call(
            lambda: self._receiver.dead_letter_message(
                raw, reason=short, error_description=(description or reason)[:1024]
            ),
            message,
        )

    @staticmethod
    def _lease(message: Message) -> ServiceBusLease:
        if not isinstance(message.receipt, ServiceBusLease):
            raise TypeError(f"message {message.id} was not received from the servicebus backend")
        return message.receipt

    def _call(self, operation: Callable[[], T], message: Message | None = None, lock: Any = None) -> T:
        """One SDK call under its lock (settle/renew unless told); lock loss -> LeaseLost,
        the rest -> BackendError."""
        from azure.servicebus.exceptions import (
            MessageAlreadySettled,
            MessageLockLostError,
            MessageNotFoundError,
            MessagingEntityNotFoundError,
            ServiceBusError,
        )

        with lock or self._settle_lock:
            try:
                return operation()
            except (MessageLockLostError, MessageAlreadySettled, MessageNotFoundError) as error:
                what = f"message {message.id}" if message else "message"
                raise LeaseLost(f"Service Bus {what}: {error}") from error
            except MessagingEntityNotFoundError as error:
                raise BackendError(
                    f"Service Bus queue {self.queue_name!r} (AGENTFLEET_QUEUE) does not exist: {error}"
                ) from error
            except ServiceBusError as error:
                raise BackendError(f"Service Bus: {error}") from error


def from_settings(settings: Settings) -> ServiceBusBackend:
    """AGENTFLEET_SERVICEBUS_NAMESPACE + AGENTFLEET_QUEUE, authenticated by the VM's managed identity."""
    from azure.identity import DefaultAzureCredential
    from azure.servicebus import ServiceBusClient
    from azure.servicebus.management import ServiceBusAdministrationClient

    namespace = settings.servicebus_namespace
    credential = DefaultAzureCredential()
    return ServiceBusBackend(
        ServiceBusClient(fully_qualified_namespace=namespace, credential=credential),
        settings.queue,
        admin=ServiceBusAdministrationClient(namespace, credential),
        visibility_timeout=settings.visibility_timeout,
        max_receive_count=settings.max_receive_count,
    )
