"""Google Cloud Pub/Sub backend (google-cloud-pubsub), with synchronous pull.

We use the SubscriberClient's unary `pull` / `acknowledge` / `modify_ack_deadline`, not the
streaming `subscribe()` helper, because the worker manages leases itself, like on every backend:

- The lease is the ack deadline. Right after a pull, `modify_ack_deadline` sets it to the
  agent's visibility timeout (the subscription's own `ackDeadlineSeconds`, 10-600 s, is only the
  initial value); `extend_lease` does the same again. One modify can ask for 0-600 s.
- There is no overall lease ceiling here: the streaming client stops extending after
  `FlowControl.max_lease_duration` (1 hour by default; see python-pubsub#593 on messages held
  longer), but our own extensions continue as long as the handler runs. A renewal we know is too
  late (our deadline has passed) raises LeaseLost without asking.
- `release(m, delay)` is `modify_ack_deadline(delay)`: 0 is a nack (redelivered now), more is a
  real retry delay. Pub/Sub counts a nack or an expired deadline as a failed delivery attempt.
- `delivery_count` is the message's `delivery_attempt`, which Pub/Sub fills only when the
  subscription has a dead-letter policy (otherwise 0: we then report 1 and say so once in the log).
  The dead-letter policy (`max_delivery_attempts`, 5-100) also dead-letters natively.
- `dead_letter()` (a handler's permanent failure) publishes the message to the dead-letter topic
  (AGENTFLEET_DEAD_LETTER_QUEUE) with the reason as an attribute, waits for the publish, then acks.
- Acks are batched: the runtime's ack batcher sends up to 100 ack ids per `acknowledge` request
  (`ack_batch`), and reports a success only once that request returned.
- An ack can fail: with exactly-once delivery an expired ack id is refused (InvalidArgument /
  FailedPrecondition), which we report as LeaseLost; without it Pub/Sub may drop a late ack
  silently, so a handler's own progress record (`ctx.once`) is what prevents a second effect.
- Queue depth is a Cloud Monitoring metric (`subscription/num_undelivered_messages`), not a
  Pub/Sub call: `stats()` is not available on this backend (the GKE autoscaler reads the metric).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from agentfleet.agent.backends.base import BackendError, LeaseLost, Message, QueueBackend
from agentfleet.agent.logging import get_logger

if TYPE_CHECKING:
    from agentfleet.agent.settings import Settings

MAX_ACK_DEADLINE = 600
#: Attributes set on a permanently failed message published to the dead-letter topic.
REASON_ATTRIBUTE = "agentfleet-dead-letter-reason"
ORIGINAL_ID_ATTRIBUTE = "agentfleet-original-message-id"
#: Pub/Sub allows at most 1,000 ack ids per acknowledge / modify request.
MAX_ACK_IDS = 1000

T = TypeVar("T")


@dataclass
class PubSubLease:
    ack_id: str
    lease_ends: float
    #: The dead-letter copy was published: a retry of `dead_letter` (its ack failed) only acks.
    dead_letter_sent: bool = False


def clamp_deadline(seconds: float) -> int:
    """A modify_ack_deadline value: 0 (nack) to 600 s."""
    return max(0, min(MAX_ACK_DEADLINE, int(seconds)))


class PubSubBackend(QueueBackend):
    """One Pub/Sub subscription through a SubscriberClient (and a PublisherClient to send)."""

    name = "pubsub"
    native_dead_letter = True
    #: Acks the runtime sends per `ack_batch` (one acknowledge request takes up to 1,000 ack ids).
    max_ack_batch = 100

    def __init__(
        self,
        subscriber: Any,
        subscription: str,
        *,
        publisher: Any = None,
        dead_letter_topic: str = "",
        topic: str = "",
        visibility_timeout: int = 60,
        publish_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not subscription.startswith("projects/") or "/subscriptions/" not in subscription:
            raise ValueError(
                f"AGENTFLEET_QUEUE={subscription!r} must be a subscription path "
                "projects/PROJECT/subscriptions/NAME for the pubsub backend"
            )
        self.subscriber = subscriber
        self.subscription = subscription
        self.publisher = publisher
        self.dead_letter_topic = dead_letter_topic
        self._topic = topic
        self.visibility_timeout = max(1, clamp_deadline(visibility_timeout))
        self.publish_timeout = publish_timeout
        self._clock = clock
        self._warned_no_attempts = False
        self._log = get_logger(component="pubsub")

    # -- the verbs --------------------------------------------------------------------------

    def receive(self, max_messages: int, wait_seconds: float) -> list[Message]:
        from google.api_core import exceptions

        started = self._clock()
        try:
            response = self._call(
                lambda: self.subscriber.pull(
                    request={"subscription": self.subscription, "max_messages": max(1, int(max_messages))},
                    timeout=max(0.1, wait_seconds),
                )
            )
        except BackendError as error:
            if isinstance(error.__cause__, exceptions.DeadlineExceeded):
                return []  # the long poll ran out with nothing to deliver
            raise
        received = list(response.received_messages)
        if not received:
            return []
        ack_ids = [r.ack_id for r in received]
        self._modify(ack_ids, self.visibility_timeout)
        lease_ends = started + self.visibility_timeout
        return [self._message(r, lease_ends) for r in received]

    def ack(self, message: Message) -> None:
        lease = self._lease(message)
        self._call(
            lambda: self.subscriber.acknowledge(
                request={"subscription": self.subscription, "ack_ids": [lease.ack_id]}
            ),
            message,
        )

    def ack_batch(self, messages: Sequence[Message]) -> list[BaseException | None]:
        """Acknowledge many deliveries in one request. Per message: None once Pub/Sub accepted
        the request; when a request of several is refused (exactly-once delivery refuses an
        expired ack id) each is acked alone, so only the refused ones come back as LeaseLost.
        A transient failure of the whole request raises BackendError, as `ack` does."""
        from google.api_core import exceptions

        results: list[BaseException | None] = [None] * len(messages)
        for start in range(0, len(messages), MAX_ACK_IDS):
            chunk = messages[start : start + MAX_ACK_IDS]
            request = {"subscription": self.subscription, "ack_ids": [self._lease(m).ack_id for m in chunk]}

            def acknowledge(request: dict[str, Any] = request) -> None:
                self.subscriber.acknowledge(request=request)

            try:
                self._call(acknowledge)
            except BackendError as error:
                refused = isinstance(
                    error.__cause__, exceptions.InvalidArgument | exceptions.FailedPrecondition
                )
                if not refused:
                    raise
                for i, message in enumerate(chunk, start):
                    try:
                        self.ack(message)
                    except (LeaseLost, BackendError) as each:
                        results[i] = each
        return results

    def extend_lease(self, message: Message, seconds: int) -> None:
        lease = self._lease(message)
        if self._clock() >= lease.lease_ends:
            raise LeaseLost(f"Pub/Sub message {message.id}: ack deadline passed before the extension")
        seconds = clamp_deadline(seconds)
        now = self._clock()
        self._modify([lease.ack_id], seconds, message)
        lease.lease_ends = now + seconds

    def release(self, message: Message, delay_seconds: int = 0) -> None:
        lease = self._lease(message)
        try:
            self._modify([lease.ack_id], clamp_deadline(delay_seconds), message)
        except LeaseLost:
            pass  # the deadline already passed: the message is due for redelivery anyway
        lease.lease_ends = self._clock()

    def dead_letter(self, message: Message, reason: str) -> None:
        if not self.dead_letter_topic:
            raise BackendError(
                "AGENTFLEET_DEAD_LETTER_QUEUE is empty: the pubsub backend needs the dead-letter topic "
                "(projects/PROJECT/topics/NAME) to dead-letter a permanent failure"
            )
        lease = self._lease(message)
        if not lease.dead_letter_sent:
            attributes = dict(message.attributes)
            attributes[REASON_ATTRIBUTE] = reason[:1024] or "unspecified"
            attributes[ORIGINAL_ID_ATTRIBUTE] = message.id
            self._publish(self.dead_letter_topic, message.body, attributes)
            lease.dead_letter_sent = True
        self.ack(message)

    def send(self, body: bytes, attributes: dict[str, str] | None = None) -> str:
        return self._publish(self.topic(), body, dict(attributes or {}))

    def ping(self) -> None:
        self._call(lambda: self.subscriber.get_subscription(request={"subscription": self.subscription}))

    def close(self) -> None:
        for client in (self.subscriber, self.publisher):
            close = getattr(client, "close", None)
            if close is not None:
                close()

    # -- helpers ----------------------------------------------------------------------------

    def topic(self) -> str:
        """The subscription's topic (asked once), where `send` publishes."""
        if not self._topic:
            sub = self._call(
                lambda: self.subscriber.get_subscription(request={"subscription": self.subscription})
            )
            self._topic = str(sub.topic)
        return self._topic

    def _publish(self, topic: str, body: bytes, attributes: dict[str, str]) -> str:
        if self.publisher is None:
            raise BackendError("the pubsub backend was built without a PublisherClient; it cannot publish")
        future = self._call(lambda: self.publisher.publish(topic, body, **attributes))
        return str(self._call(lambda: future.result(timeout=self.publish_timeout)))

    def _modify(self, ack_ids: list[str], seconds: int, message: Message | None = None) -> None:
        for start in range(0, len(ack_ids), MAX_ACK_IDS):
            chunk = ack_ids[start : start + MAX_ACK_IDS]
            request = {"subscription": self.subscription, "ack_ids": chunk, "ack_deadline_seconds": seconds}

            def modify(request: dict[str, Any] = request) -> None:
                self.subscriber.modify_ack_deadline(request=request)

            self._call(modify, message)

    def _message(self, received: Any, lease_ends: float) -> Message:
        raw = received.message
        attempt = int(received.delivery_attempt or 0)
        if attempt == 0 and not self._warned_no_attempts:
            self._warned_no_attempts = True
            self._log.warning(
                "subscription has no dead-letter policy: Pub/Sub does not count deliveries, "
                "delivery_count is reported as 1",
                subscription=self.subscription,
            )
        publish_time = getattr(raw, "publish_time", None)
        return Message(
            id=str(raw.message_id),
            body=bytes(raw.data),
            delivery_count=max(1, attempt),
            receipt=PubSubLease(ack_id=str(received.ack_id), lease_ends=lease_ends),
            attributes={str(k): str(v) for k, v in raw.attributes.items()},
            enqueued_at=publish_time.timestamp() if publish_time else None,
        )

    @staticmethod
    def _lease(message: Message) -> PubSubLease:
        if not isinstance(message.receipt, PubSubLease):
            raise TypeError(f"message {message.id} was not received from the pubsub backend")
        return message.receipt

    def _call(self, operation: Callable[[], T], message: Message | None = None) -> T:
        """One client call: a refused ack id -> LeaseLost; a missing subscription names the
        variable; transient failures (unavailable, deadline, throttled) -> BackendError."""
        from google.api_core import exceptions

        try:
            return operation()
        except (exceptions.InvalidArgument, exceptions.FailedPrecondition) as error:
            if message is not None:
                raise LeaseLost(f"Pub/Sub message {message.id}: {error.message}") from error
            raise BackendError(f"Pub/Sub refused the request: {error.message}") from error
        except exceptions.NotFound as error:
            raise BackendError(
                f"Pub/Sub subscription or topic not found (AGENTFLEET_QUEUE={self.subscription!r}, "
                f"AGENTFLEET_DEAD_LETTER_QUEUE={self.dead_letter_topic!r}): {error.message}"
            ) from error
        except exceptions.GoogleAPIError as error:
            raise BackendError(f"Pub/Sub: {error}") from error
        except TimeoutError as error:  # a publish future that did not resolve in time
            raise BackendError(f"Pub/Sub publish did not finish in {self.publish_timeout:.0f} s") from error


def from_settings(settings: Settings) -> PubSubBackend:
    """AGENTFLEET_QUEUE is the subscription path; credentials are the pod's Workload Identity."""
    from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient  # type: ignore[import-untyped]

    return PubSubBackend(
        SubscriberClient(),
        settings.queue,
        publisher=PublisherClient(),
        dead_letter_topic=settings.dead_letter_queue,
        visibility_timeout=settings.visibility_timeout,
    )
