"""Operator verbs on a Pub/Sub fleet: the work topic and the subscription that keeps dead letters.

- Pub/Sub has no count call: the backlog is the Cloud Monitoring metric
  `subscription/num_undelivered_messages` (what KEDA reads), so the counts show as unknown here.
- Dead letters are pulled from the dead-letter topic's own subscription (the stack's
  `dead_letter_subscription`, or `<dead-letter topic>-kept`, the name providers/gcp gives it).
  A look holds them with `modify_ack_deadline` and then nacks them (deadline 0), so they are
  available again at once. A dead letter's key is its message id on the dead-letter topic. Its
  reason is the runtime's `agentfleet-dead-letter-reason` attribute, or, for one Pub/Sub forwarded
  after `max_delivery_attempts`, the `CloudPubSubDeadLetterSourceDeliveryCount` it carries.
- A redriven copy is published to the work topic with the same data and attributes (less the
  dead-letter bookkeeping) plus the redrive id; it counts as confirmed once the publish future
  returns its message id, and only then is the dead letter acked.
- Agents: a GKE Deployment's replicas are a Kubernetes API call, not Pub/Sub: not shown.

Endpoint: the client library's own PUBSUB_EMULATOR_HOST; credentials: Application Default
Credentials (the operator's `gcloud auth application-default login`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agentfleet.agent.backends.admin import (
    DeadLetter,
    QueueAdmin,
    QueueCounts,
    copy_attributes,
    peek_by_holding,
    require,
)
from agentfleet.agent.backends.pubsub import MAX_ACK_IDS, REASON_ATTRIBUTE

#: The attribute Pub/Sub adds to a message it forwards to the dead-letter topic.
SOURCE_DELIVERY_COUNT = "CloudPubSubDeadLetterSourceDeliveryCount"
#: Attributes a copy does not carry back to the work topic.
DEAD_LETTER_BOOKKEEPING = (REASON_ATTRIBUTE, SOURCE_DELIVERY_COUNT)
#: Suffix providers/gcp gives the dead-letter topic's subscription (names.dead_letter_subscription).
KEPT_SUFFIX = "-kept"


class PubSubAdmin(QueueAdmin):
    name = "pubsub"
    batch_size = 100

    def __init__(
        self,
        subscriber: Any,
        publisher: Any,
        *,
        topic: str,
        dead_letter_subscription: str,
        hold_seconds: int = 120,
        peek_seconds: int = 30,
        wait_seconds: float = 2.0,
        publish_timeout: float = 60.0,
    ) -> None:
        self.subscriber = subscriber
        self.publisher = publisher
        self.topic = topic
        self.dead_letter_subscription = dead_letter_subscription
        self.hold_seconds = hold_seconds
        self.peek_seconds = peek_seconds
        self.wait_seconds = wait_seconds
        self.publish_timeout = publish_timeout

    def counts(self) -> QueueCounts:
        return QueueCounts(waiting=None, in_flight=None, dead_lettered=None)

    def peek_dead_letters(self, limit: int) -> list[DeadLetter]:
        return peek_by_holding(self, lambda n: self._pull(n, self.peek_seconds), limit)

    def take_dead_letters(self, max_messages: int) -> list[DeadLetter]:
        return self._pull(max_messages, self.hold_seconds)

    def requeue(self, letters: Sequence[DeadLetter]) -> list[bool]:
        from google.api_core.exceptions import GoogleAPIError

        futures = [
            self.publisher.publish(
                self.topic,
                letter.body,
                **copy_attributes(letter.attributes, letter.key, drop=DEAD_LETTER_BOOKKEEPING),
            )
            for letter in letters
        ]
        confirmed: list[bool] = []
        for future in futures:
            try:
                future.result(timeout=self.publish_timeout)
                confirmed.append(True)
            except (GoogleAPIError, TimeoutError):
                confirmed.append(False)
        return confirmed

    def remove_dead_letters(self, letters: Sequence[DeadLetter]) -> list[bool]:
        for start in range(0, len(letters), MAX_ACK_IDS):
            chunk = [str(m.receipt) for m in letters[start : start + MAX_ACK_IDS]]
            self.subscriber.acknowledge(
                request={"subscription": self.dead_letter_subscription, "ack_ids": chunk}
            )
        return [True] * len(letters)

    def give_back(self, letters: Sequence[DeadLetter]) -> None:
        self._modify([str(m.receipt) for m in letters], 0)

    def send_batch(self, bodies: Sequence[bytes]) -> int:
        futures = [self.publisher.publish(self.topic, body) for body in bodies]
        for future in futures:
            future.result(timeout=self.publish_timeout)
        return len(futures)

    def close(self) -> None:
        for client in (self.subscriber, self.publisher):
            close = getattr(client, "close", None)
            if close is not None:
                close()

    def _pull(self, max_messages: int, hold_seconds: int) -> list[DeadLetter]:
        from google.api_core.exceptions import DeadlineExceeded

        try:
            response = self.subscriber.pull(
                request={"subscription": self.dead_letter_subscription, "max_messages": max_messages},
                timeout=self.wait_seconds,
            )
        except DeadlineExceeded:
            return []  # nothing to deliver before the call's deadline
        letters = [_letter(received) for received in response.received_messages]
        self._modify([str(m.receipt) for m in letters], hold_seconds)
        return letters

    def _modify(self, ack_ids: list[str], seconds: int) -> None:
        for start in range(0, len(ack_ids), MAX_ACK_IDS):
            self.subscriber.modify_ack_deadline(
                request={
                    "subscription": self.dead_letter_subscription,
                    "ack_ids": ack_ids[start : start + MAX_ACK_IDS],
                    "ack_deadline_seconds": seconds,
                }
            )


def _letter(received: Any) -> DeadLetter:
    raw = received.message
    attributes = {str(k): str(v) for k, v in raw.attributes.items()}
    forwarded = attributes.get(SOURCE_DELIVERY_COUNT)
    reason = attributes.get(REASON_ATTRIBUTE) or (
        f"max delivery attempts reached ({forwarded} deliveries; Pub/Sub's dead-letter policy)"
        if forwarded
        else "unspecified"
    )
    publish_time = getattr(raw, "publish_time", None)
    return DeadLetter(
        key=str(raw.message_id),
        body=bytes(raw.data),
        reason=reason,
        delivery_count=int(forwarded) if forwarded else None,
        attributes=attributes,
        enqueued_at=publish_time.timestamp() if publish_time else None,
        receipt=str(received.ack_id),
    )


def dead_letter_subscription_of(outputs: Mapping[str, Any]) -> str:
    """The stack's `dead_letter_subscription`, else the one providers/gcp names after the topic."""
    if outputs.get("dead_letter_subscription"):
        return str(outputs["dead_letter_subscription"])
    (topic,) = require(outputs, "gcp", "dead_letter_queue")
    project, _, name = topic.removeprefix("projects/").partition("/topics/")
    return f"projects/{project}/subscriptions/{name}{KEPT_SUFFIX}"


def from_outputs(outputs: Mapping[str, Any]) -> PubSubAdmin:
    """`topic` and `dead_letter_queue` (the dead-letter topic) from the stack outputs."""
    from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient  # type: ignore[import-untyped]

    (topic,) = require(outputs, "gcp", "topic")
    return PubSubAdmin(
        SubscriberClient(),
        PublisherClient(),
        topic=topic,
        dead_letter_subscription=dead_letter_subscription_of(outputs),
    )
