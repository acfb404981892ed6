"""Operator verbs on a Service Bus fleet: the queue and its `$DeadLetterQueue` sub-queue.

- Counts come from the queue's runtime properties (`ServiceBusAdministrationClient`
  `.get_queue_runtime_properties`: `active_message_count`, `dead_letter_message_count`), which
  needs the Manage right (Azure Service Bus Data Owner); without it the counts show as unknown.
  Service Bus counts locked messages as active and has no count of locks: in flight is unknown.
  The oldest message's age is that of the first message a peek at the queue returns.
- Dead letters are read from the sub-queue (`get_queue_receiver(sub_queue=DEAD_LETTER)`):
  `peek_messages` (from a sequence number, so a long list pages) for a look that locks nothing,
  PEEK_LOCK receives for a redrive or purge. A dead letter's key is its sequence number, unique
  in the queue; its reason is `dead_letter_reason` (`MaxDeliveryCountExceeded` when Service Bus
  moved it, the handler's error when the runtime did).
- A redriven copy is a new message on the queue with the same body, `message_id`, content type,
  subject, correlation id and application properties (less the runtime's retry bookkeeping, so
  the copy's deliveries count from one again) plus the redrive id. Copies and `send` go out in
  `ServiceBusMessageBatch`es as large as the tier allows; a batch succeeds or fails whole.
- Agents: a scale set's counts are Azure Resource Manager calls (azure-mgmt-compute), not Service
  Bus: not shown.

Endpoint: AGENTFLEET_SERVICEBUS_CONNECTION_STRING (e.g. the Service Bus emulator's
`Endpoint=sb://localhost;…;UseDevelopmentEmulator=true;`) replaces the namespace + Entra
credential; otherwise DefaultAzureCredential signs in as the operator.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from agentfleet.agent.backends.admin import DeadLetter, QueueAdmin, QueueCounts, copy_attributes, require
from agentfleet.agent.backends.servicebus import DELIVERIES_PROPERTY, _body, _text

#: Overrides namespace + credential (an emulator, or a SAS connection string).
CONNECTION_STRING_VARIABLE = "AGENTFLEET_SERVICEBUS_CONNECTION_STRING"
#: Messages per peek call.
PAGE = 100


class ServiceBusAdmin(QueueAdmin):
    name = "servicebus"
    batch_size = 50

    def __init__(self, client: Any, queue_name: str, *, admin: Any = None, wait_seconds: float = 1.0) -> None:
        from azure.servicebus import ServiceBusReceiveMode, ServiceBusSubQueue

        self.client = client
        self.queue_name = queue_name
        self.admin = admin
        self.wait_seconds = wait_seconds
        self._dead = client.get_queue_receiver(
            queue_name=queue_name,
            sub_queue=ServiceBusSubQueue.DEAD_LETTER,
            receive_mode=ServiceBusReceiveMode.PEEK_LOCK,
            prefetch_count=0,
        )
        self._work = client.get_queue_receiver(queue_name=queue_name, prefetch_count=0)
        self._sender = client.get_queue_sender(queue_name=queue_name)

    def counts(self) -> QueueCounts:
        from azure.core.exceptions import AzureError

        waiting: int | None = None
        dead: int | None = None
        if self.admin is not None:
            try:
                props = self.admin.get_queue_runtime_properties(self.queue_name)
                waiting, dead = int(props.active_message_count), int(props.dead_letter_message_count)
            except AzureError:
                pass  # no Manage right (Data Owner), or an emulator without the management API
        first = self._work.peek_messages(max_message_count=1)
        oldest = None
        if first and first[0].enqueued_time_utc is not None:
            oldest = max(0.0, (dt.datetime.now(dt.UTC) - first[0].enqueued_time_utc).total_seconds())
        return QueueCounts(waiting=waiting, in_flight=None, dead_lettered=dead, oldest_age_seconds=oldest)

    def peek_dead_letters(self, limit: int) -> list[DeadLetter]:
        found: list[DeadLetter] = []
        after = 0
        while len(found) < limit:
            page = self._dead.peek_messages(
                max_message_count=min(PAGE, limit - len(found)), sequence_number=after
            )
            page = [m for m in page if int(m.sequence_number) >= after]
            if not page:
                break
            found.extend(_letter(m) for m in page)
            after = max(int(m.sequence_number) for m in page) + 1
        return found

    def take_dead_letters(self, max_messages: int) -> list[DeadLetter]:
        received = self._dead.receive_messages(
            max_message_count=max_messages, max_wait_time=self.wait_seconds
        )
        return [_letter(m) for m in received]

    def requeue(self, letters: Sequence[DeadLetter]) -> list[bool]:
        from azure.servicebus.exceptions import ServiceBusError

        confirmed: list[bool] = []
        for batch, count in self._batches([_copy(letter) for letter in letters]):
            try:
                self._sender.send_messages(batch)
                confirmed.extend([True] * count)
            except ServiceBusError:
                confirmed.extend([False] * count)  # a batch is sent whole or not at all
        return confirmed

    def remove_dead_letters(self, letters: Sequence[DeadLetter]) -> list[bool]:
        from azure.servicebus.exceptions import MessageAlreadySettled, MessageLockLostError

        done: list[bool] = []
        for letter in letters:
            try:
                self._dead.complete_message(letter.receipt)
                done.append(True)
            except (MessageLockLostError, MessageAlreadySettled):
                done.append(False)  # the lock ended: it is back in the sub-queue
        return done

    def give_back(self, letters: Sequence[DeadLetter]) -> None:
        from azure.servicebus.exceptions import MessageAlreadySettled, MessageLockLostError

        for letter in letters:
            try:
                self._dead.abandon_message(letter.receipt)
            except (MessageLockLostError, MessageAlreadySettled):
                pass  # already back

    def send_batch(self, bodies: Sequence[bytes]) -> int:
        from azure.servicebus import ServiceBusMessage

        sent = 0
        for batch, count in self._batches([ServiceBusMessage(b) for b in bodies]):
            self._sender.send_messages(batch)
            sent += count
        return sent

    def _batches(self, messages: Sequence[Any]) -> Iterator[tuple[Any, int]]:
        """`ServiceBusMessageBatch`es as full as the tier allows (`add_message` raises
        MessageSizeExceededError when the next message would not fit), with their sizes."""
        from azure.servicebus.exceptions import MessageSizeExceededError

        batch, count = self._sender.create_message_batch(), 0
        for message in messages:
            try:
                batch.add_message(message)
            except MessageSizeExceededError:
                if count == 0:
                    raise  # this one message is larger than a batch may be
                yield batch, count
                batch, count = self._sender.create_message_batch(), 0
                batch.add_message(message)
            count += 1
        if count:
            yield batch, count

    def close(self) -> None:
        for closeable in (self._dead, self._work, self._sender, self.client, self.admin):
            close = getattr(closeable, "close", None)
            if close is not None:
                close()


def _letter(raw: Any) -> DeadLetter:
    properties = {_text(k): _text(v) for k, v in (raw.application_properties or {}).items()}
    carried = int(properties.get(DELIVERIES_PROPERTY, "0") or 0)
    enqueued = raw.enqueued_time_utc
    return DeadLetter(
        key=str(raw.sequence_number),
        body=_body(raw),
        reason=str(raw.dead_letter_reason or "unspecified"),
        # The SDK counts failed attempts (0 for a message the runtime dead-lettered on its first
        # delivery; MaxDeliveryCount for one Service Bus moved): every dead letter was delivered once.
        delivery_count=max(1, carried + int(raw.delivery_count or 0)),
        attributes=properties,
        enqueued_at=enqueued.timestamp() if enqueued is not None else None,
        receipt=raw,
    )


def _copy(letter: DeadLetter) -> Any:
    from azure.servicebus import ServiceBusMessage

    raw = letter.receipt
    kept = copy_attributes(letter.attributes, letter.key, drop=[DELIVERIES_PROPERTY])
    properties: dict[str | bytes, Any] = {k: v for k, v in kept.items()}
    return ServiceBusMessage(
        letter.body,
        application_properties=properties,
        message_id=_optional(getattr(raw, "message_id", None)),
        content_type=_optional(getattr(raw, "content_type", None)),
        subject=_optional(getattr(raw, "subject", None)),
        correlation_id=_optional(getattr(raw, "correlation_id", None)),
    )


def _optional(value: Any) -> str | None:
    return _text(value) if value else None


def from_outputs(outputs: Mapping[str, Any]) -> ServiceBusAdmin:
    """`servicebus_namespace` (its host name) and `queue_name` from the stack outputs."""
    from azure.servicebus import ServiceBusClient
    from azure.servicebus.management import ServiceBusAdministrationClient

    namespace, queue_name = require(outputs, "azure", "servicebus_namespace", "queue_name")
    connection = os.environ.get(CONNECTION_STRING_VARIABLE, "")
    if connection:
        return ServiceBusAdmin(
            ServiceBusClient.from_connection_string(connection),
            queue_name,
            admin=ServiceBusAdministrationClient.from_connection_string(connection),
        )
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential()
    return ServiceBusAdmin(
        ServiceBusClient(fully_qualified_namespace=namespace, credential=credential),
        queue_name,
        admin=ServiceBusAdministrationClient(namespace, credential),
    )
