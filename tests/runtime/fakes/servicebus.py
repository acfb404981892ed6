"""A fake Service Bus namespace at the azure-servicebus SDK boundary (no emulator runs here).

It mirrors what the SDK and the service document, and raises the SDK's own exceptions:

- `ServiceBusClient.get_queue_receiver(queue_name=, receive_mode=PEEK_LOCK, prefetch_count=0)` and
  `get_queue_sender(queue_name=)`; an unknown queue raises `MessagingEntityNotFoundError`.
- `receive_messages(max_message_count, max_wait_time)`: `max_wait_time <= 0` is a ValueError (as
  in the SDK); waits up to `max_wait_time` for the first message, returns at most
  `max_message_count`, each peek-locked until now + the queue's LockDuration
  (`locked_until_utc`, `lock_token`).
- `delivery_count` is the AMQP header's count of prior unsuccessful attempts: 0 on the first
  delivery, +1 when a lock expires or the message is abandoned (SDK docstring of
  ServiceBusReceivedMessage.delivery_count / AmqpMessageHeader).
- When that count reaches the queue's MaxDeliveryCount the message moves to the dead-letter
  sub-queue with DeadLetterReason `MaxDeliveryCountExceeded`.
- `complete_message` / `abandon_message` / `dead_letter_message(reason=, error_description=)` /
  `renew_message_lock` on a message whose lock has expired raise `MessageLockLostError` (the SDK
  checks `locked_until_utc` locally before it even asks the service); on a message this receiver
  already settled raise `MessageAlreadySettled`.
- `renew_message_lock` sets the lock to now + LockDuration and returns the new `locked_until_utc`.
  `renew_latency` models the trip to the service: a renewal that arrives after the lock ended
  fails with `MessageLockLostError`, which is what renewing at 299 s of a 300 s lock ran into
  (Azure/azure-service-bus#692).
- `ServiceBusSender.send_messages(message)` enqueues now (a message, a list, or a batch from
  `create_message_batch()`, whose `add_message` raises MessageSizeExceededError when full);
  `schedule_messages(message, schedule_time_utc)` enqueues at that time and returns sequence numbers.
- Received `application_properties` keys and string values come back as bytes, as the SDK's type
  (`Dict[Union[str, bytes], ...]`) allows, so the backend must decode them.
- `get_queue_receiver(queue_name=, sub_queue=ServiceBusSubQueue.DEAD_LETTER)` reads the
  dead-letter sub-queue; `peek_messages(max_message_count, sequence_number=)` browses from a
  sequence number without locking.
- `ServiceBusAdministrationClient.get_queue_runtime_properties(name)` reports
  `active_message_count` (which includes locked messages: Service Bus has no separate count),
  `dead_letter_message_count` and `scheduled_message_count`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class _Stored:
    sequence_number: int
    message_id: str
    body: bytes
    properties: dict[str, Any]
    enqueued: dt.datetime
    visible_at: dt.datetime
    delivery_count: int = 0
    lock_token: str = ""
    locked_until: dt.datetime | None = None
    dead_letter_reason: str | None = None
    dead_letter_error_description: str | None = None


@dataclass
class FakeQueue:
    name: str
    lock_duration: float = 60.0
    max_delivery_count: int = 10
    renew_latency: float = 0.0
    active: list[_Stored] = field(default_factory=list)
    dead: list[_Stored] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def expire_locks(self) -> None:
        """Locks whose time ran out end: the message is available again, one attempt more."""
        now = _now()
        for stored in list(self.active):
            if stored.locked_until is not None and stored.locked_until <= now:
                stored.locked_until = None
                stored.lock_token = ""
                self._failed_attempt(stored)

    def _failed_attempt(self, stored: _Stored) -> None:
        stored.delivery_count += 1
        if stored.delivery_count >= self.max_delivery_count:
            self.active.remove(stored)
            stored.dead_letter_reason = "MaxDeliveryCountExceeded"
            stored.dead_letter_error_description = (
                f"Message could not be consumed after {self.max_delivery_count} delivery attempts."
            )
            self.dead.append(stored)


class FakeReceivedMessage:
    """The attributes of ServiceBusReceivedMessage the backend reads."""

    def __init__(self, stored: _Stored) -> None:
        self._stored = stored
        self.message_id = stored.message_id
        self.sequence_number = stored.sequence_number
        self.delivery_count = stored.delivery_count
        self.lock_token = stored.lock_token
        self.locked_until_utc = stored.locked_until
        self.enqueued_time_utc = stored.enqueued
        self.application_properties = {
            k.encode(): (v.encode() if isinstance(v, str) else v) for k, v in stored.properties.items()
        }
        self.dead_letter_reason = stored.dead_letter_reason
        self.dead_letter_error_description = stored.dead_letter_error_description
        self.settled = False

    @property
    def body(self) -> Any:
        return iter([self._stored.body])  # a data body is a generator of bytes sections

    def __str__(self) -> str:
        return self._stored.body.decode("utf-8", errors="replace")


class FakeNamespace:
    def __init__(self) -> None:
        self.queues: dict[str, FakeQueue] = {}
        self._sequence = itertools.count(1)

    def create_queue(
        self, name: str, *, lock_duration: float = 60.0, max_delivery_count: int = 10
    ) -> FakeQueue:
        queue = FakeQueue(name, lock_duration=lock_duration, max_delivery_count=max_delivery_count)
        self.queues[name] = queue
        return queue

    def queue(self, name: str) -> FakeQueue:
        from azure.servicebus.exceptions import MessagingEntityNotFoundError

        try:
            return self.queues[name]
        except KeyError:
            text = f"The messaging entity '{name}' could not be found."
            raise MessagingEntityNotFoundError(message=text) from None

    def dead_letter_view(self, name: str) -> FakeQueue:
        """The `$DeadLetterQueue` sub-queue, as a queue of its own over the parent's dead letters:
        received, completed and abandoned like any queue, never dead-lettered again (the SDK's
        receiver with `sub_queue=DEAD_LETTER`, entity `NAME/$DeadLetterQueue`)."""
        parent = self.queue(name)
        view_name = f"{name}/$DeadLetterQueue"
        if view_name not in self.queues:
            self.queues[view_name] = FakeQueue(
                view_name,
                lock_duration=parent.lock_duration,
                max_delivery_count=2**31,
                active=parent.dead,
                cond=parent.cond,
            )
        return self.queues[view_name]

    def enqueue(self, queue: FakeQueue, message: Any, at: dt.datetime | None = None) -> int:
        body = message.body if isinstance(message.body, bytes) else b"".join(bytes(b) for b in message.body)
        properties = {
            (k.decode() if isinstance(k, bytes) else str(k)): v
            for k, v in (message.application_properties or {}).items()
        }
        now = _now()
        stored = _Stored(
            sequence_number=next(self._sequence),
            message_id=str(message.message_id or uuid.uuid4().hex),
            body=body,
            properties=properties,
            enqueued=at or now,
            visible_at=at or now,
        )
        with queue.cond:
            queue.active.append(stored)
            queue.cond.notify_all()
        return stored.sequence_number


class FakeServiceBusClient:
    def __init__(self, namespace: FakeNamespace) -> None:
        self.namespace = namespace

    def get_queue_receiver(self, queue_name: str, **kwargs: Any) -> FakeReceiver:
        from azure.servicebus import ServiceBusReceiveMode, ServiceBusSubQueue

        assert kwargs.get("receive_mode", ServiceBusReceiveMode.PEEK_LOCK) == ServiceBusReceiveMode.PEEK_LOCK
        assert kwargs.get("prefetch_count", 0) == 0
        if kwargs.get("sub_queue") is not None:
            assert ServiceBusSubQueue(kwargs["sub_queue"]) == ServiceBusSubQueue.DEAD_LETTER
            return FakeReceiver(self.namespace, self.namespace.dead_letter_view(queue_name).name)
        return FakeReceiver(self.namespace, queue_name)

    def get_queue_sender(self, queue_name: str, **kwargs: Any) -> FakeSender:
        return FakeSender(self.namespace, queue_name)

    def close(self) -> None:
        return None


class FakeMessageBatch:
    """`ServiceBusMessageBatch`: `add_message` raises MessageSizeExceededError once the bodies would
    pass the batch's size (256 KB on the Standard tier); iterating gives the messages."""

    STANDARD_TIER_BYTES = 256 * 1024

    def __init__(self, max_size_in_bytes: int) -> None:
        self.max_size_in_bytes = max_size_in_bytes
        self.messages: list[Any] = []
        self.size_in_bytes = 0

    def add_message(self, message: Any) -> None:
        from azure.servicebus.exceptions import MessageSizeExceededError

        body = message.body if isinstance(message.body, bytes) else b"".join(bytes(b) for b in message.body)
        if self.size_in_bytes + len(body) > self.max_size_in_bytes:
            raise MessageSizeExceededError(message="ServiceBusMessageBatch has reached its size limit")
        self.messages.append(message)
        self.size_in_bytes += len(body)

    def __iter__(self) -> Any:
        return iter(self.messages)

    def __len__(self) -> int:
        return len(self.messages)


class FakeSender:
    """Like the SDK, opening a sender does not touch the service: a missing queue fails on use."""

    def __init__(self, namespace: FakeNamespace, queue_name: str) -> None:
        self.namespace = namespace
        self.queue_name = queue_name

    @property
    def queue(self) -> FakeQueue:
        return self.namespace.queue(self.queue_name)

    def send_messages(self, message: Any, **kwargs: Any) -> None:
        for m in message if isinstance(message, list | FakeMessageBatch) else [message]:
            self.namespace.enqueue(self.queue, m)

    def create_message_batch(self, max_size_in_bytes: int | None = None) -> FakeMessageBatch:
        return FakeMessageBatch(max_size_in_bytes or FakeMessageBatch.STANDARD_TIER_BYTES)

    def schedule_messages(self, messages: Any, schedule_time_utc: dt.datetime, **kwargs: Any) -> list[int]:
        return [
            self.namespace.enqueue(self.queue, m, schedule_time_utc)
            for m in (messages if isinstance(messages, list) else [messages])
        ]

    def close(self) -> None:
        return None


class FakeReceiver:
    """Like the SDK, opening a receiver does not touch the service: a missing queue fails on use."""

    def __init__(self, namespace: FakeNamespace, queue_name: str) -> None:
        self.namespace = namespace
        self.queue_name = queue_name

    @property
    def queue(self) -> FakeQueue:
        return self.namespace.queue(self.queue_name)

    def receive_messages(
        self, max_message_count: int | None = 1, max_wait_time: float | None = None
    ) -> list[Any]:
        if max_wait_time is not None and max_wait_time <= 0:
            raise ValueError("The max_wait_time must be greater than 0.")
        deadline = time.monotonic() + (60.0 if max_wait_time is None else max_wait_time)
        with self.queue.cond:
            while True:
                self.queue.expire_locks()
                now = _now()
                ready = [s for s in self.queue.active if s.locked_until is None and s.visible_at <= now]
                if ready:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self.queue.cond.wait(min(left, 0.05))
            out = []
            for stored in ready[: max_message_count or 1]:
                stored.lock_token = str(uuid.uuid4())
                stored.locked_until = now + dt.timedelta(seconds=self.queue.lock_duration)
                out.append(FakeReceivedMessage(stored))
            return out

    def _locked(self, message: FakeReceivedMessage) -> _Stored:
        from azure.servicebus.exceptions import MessageAlreadySettled, MessageLockLostError

        if message.settled:
            raise MessageAlreadySettled(action="settle")
        stored = message._stored
        if message.locked_until_utc is None or message.locked_until_utc <= _now():
            raise MessageLockLostError(message="The lock on the message lock has expired.")
        with self.queue.cond:
            self.queue.expire_locks()
            if stored.lock_token != message.lock_token or stored not in self.queue.active:
                raise MessageLockLostError(message="The lock supplied is invalid or has expired.")
        return stored

    def complete_message(self, message: FakeReceivedMessage) -> None:
        stored = self._locked(message)
        with self.queue.cond:
            self.queue.active.remove(stored)
        message.settled = True

    def abandon_message(self, message: FakeReceivedMessage) -> None:
        stored = self._locked(message)
        with self.queue.cond:
            stored.locked_until = None
            stored.lock_token = ""
            self.queue._failed_attempt(stored)
            self.queue.cond.notify_all()
        message.settled = True

    def dead_letter_message(
        self, message: FakeReceivedMessage, reason: str | None = None, error_description: str | None = None
    ) -> None:
        stored = self._locked(message)
        with self.queue.cond:
            self.queue.active.remove(stored)
            stored.dead_letter_reason = reason
            stored.dead_letter_error_description = error_description
            stored.locked_until = None
            self.queue.dead.append(stored)
        message.settled = True

    def renew_message_lock(self, message: FakeReceivedMessage, **kwargs: Any) -> dt.datetime:
        from azure.servicebus.exceptions import MessageLockLostError

        self._locked(message)
        time.sleep(self.queue.renew_latency)  # the request's trip to the service
        stored = self._locked_at_service(message)
        if stored is None:
            raise MessageLockLostError(message="The lock supplied is invalid or has expired.")
        stored.locked_until = _now() + dt.timedelta(seconds=self.queue.lock_duration)
        message.locked_until_utc = stored.locked_until
        return stored.locked_until

    def _locked_at_service(self, message: FakeReceivedMessage) -> _Stored | None:
        stored = message._stored
        with self.queue.cond:
            self.queue.expire_locks()
            if stored.lock_token == message.lock_token and stored in self.queue.active:
                return stored
        return None

    def peek_messages(
        self, max_message_count: int = 1, *, sequence_number: int = 0, **kwargs: Any
    ) -> list[Any]:
        """Browse from `sequence_number` on, in sequence order, locking nothing."""
        with self.queue.cond:
            ordered = sorted(
                (s for s in self.queue.active if s.sequence_number >= sequence_number),
                key=lambda s: s.sequence_number,
            )
            return [FakeReceivedMessage(s) for s in ordered[:max_message_count]]

    def close(self) -> None:
        return None


class FakeAdministrationClient:
    def __init__(self, namespace: FakeNamespace) -> None:
        self.namespace = namespace

    def get_queue_runtime_properties(self, queue_name: str, **kwargs: Any) -> Any:
        queue = self.namespace.queue(queue_name)
        with queue.cond:
            queue.expire_locks()
            now = _now()
            return SimpleNamespace(
                name=queue_name,
                active_message_count=sum(1 for s in queue.active if s.visible_at <= now),
                scheduled_message_count=sum(1 for s in queue.active if s.visible_at > now),
                dead_letter_message_count=len(queue.dead),
            )

    def close(self) -> None:
        return None
