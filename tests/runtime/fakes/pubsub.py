"""A fake Pub/Sub service at the google-cloud-pubsub SDK boundary (no emulator runs here).

`FakeSubscriberClient` / `FakePublisherClient` take the same calls as the SDK's clients and
answer with the SDK's own proto-plus types (`google.pubsub_v1.types.PullResponse`, ...) and
`google.api_core.exceptions`. The service behaviour mirrors the Pub/Sub documentation:

- A subscription's `ack_deadline_seconds` must be 10-600 (InvalidArgument otherwise); a
  dead-letter policy's `max_delivery_attempts` must be 5-100.
- `pull(request={"subscription", "max_messages"}, timeout=)` leases up to `max_messages` for the
  subscription's ack deadline, each with a fresh `ack_id`; with nothing to deliver before the
  client's `timeout`, the call fails with `DeadlineExceeded` (the gRPC deadline). An unknown
  subscription is `NotFound`.
- `modify_ack_deadline(request={..., "ack_ids", "ack_deadline_seconds"})` accepts 0-600 s (0 is a
  nack: available again now); `acknowledge` removes the message.
- Only the latest ack id of a message is live. Without exactly-once delivery, an ack or modify
  with an expired / superseded ack id is silently ignored (at-least-once: "a message may be
  redelivered even after an ack"); with `enable_exactly_once_delivery` the request fails with
  `InvalidArgument` (the ack id is invalid), which is how the SDK reports a failed ack.
- `delivery_attempt` is set only when the subscription has a dead-letter policy (else 0). It
  grows by one for every delivery after a nack or an expired deadline. A message whose next
  delivery would exceed `max_delivery_attempts` is forwarded to the dead-letter topic instead
  (with the `CloudPubSubDeadLetterSourceDeliveryCount` attribute Pub/Sub adds) and leaves the
  subscription.
- `PublisherClient.publish(topic, data, **attributes)` returns a future whose `result()` is the
  message id; an unknown topic fails the future with `NotFound`. Every subscription of the topic
  gets a copy.
- `get_subscription(request={"subscription"})` returns the Subscription with its `topic`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Stored:
    message_id: str
    data: bytes
    attributes: dict[str, str]
    published: dt.datetime
    attempts: int = 0
    ack_id: str = ""
    deadline: float = 0.0  # monotonic; 0 = not leased


@dataclass
class FakeSubscription:
    name: str
    topic: str
    ack_deadline_seconds: int = 10
    dead_letter_topic: str = ""
    max_delivery_attempts: int = 5
    exactly_once: bool = False
    messages: list[_Stored] = field(default_factory=list)


class FakePubSub:
    """The service: topics, subscriptions, and the messages in them."""

    def __init__(self) -> None:
        self.topics: dict[str, list[str]] = {}
        self.subscriptions: dict[str, FakeSubscription] = {}
        self.cond = threading.Condition()
        self._ids = itertools.count(1)

    def create_topic(self, name: str) -> None:
        self.topics.setdefault(name, [])

    def create_subscription(
        self,
        name: str,
        topic: str,
        *,
        ack_deadline_seconds: int = 10,
        dead_letter_topic: str = "",
        max_delivery_attempts: int = 5,
        exactly_once: bool = False,
    ) -> FakeSubscription:
        from google.api_core.exceptions import InvalidArgument

        if not 10 <= ack_deadline_seconds <= 600:
            raise InvalidArgument(f"ack_deadline_seconds {ack_deadline_seconds} must be between 10 and 600")
        if dead_letter_topic and not 5 <= max_delivery_attempts <= 100:
            raise InvalidArgument(f"max_delivery_attempts {max_delivery_attempts} must be between 5 and 100")
        sub = FakeSubscription(
            name, topic, ack_deadline_seconds, dead_letter_topic, max_delivery_attempts, exactly_once
        )
        self.subscriptions[name] = sub
        self.topics.setdefault(topic, []).append(name)
        return sub

    def publish(self, topic: str, data: bytes, attributes: dict[str, str]) -> str:
        from google.api_core.exceptions import NotFound

        if topic not in self.topics:
            raise NotFound(f"Topic not found: {topic}")
        message_id = str(next(self._ids))
        now = dt.datetime.now(dt.UTC)
        with self.cond:
            for name in self.topics[topic]:
                stored = _Stored(message_id, bytes(data), dict(attributes), now)
                self.subscriptions[name].messages.append(stored)
            self.cond.notify_all()
        return message_id

    def subscription(self, name: str) -> FakeSubscription:
        from google.api_core.exceptions import NotFound

        try:
            return self.subscriptions[name]
        except KeyError:
            raise NotFound(f"Subscription does not exist: {name}") from None

    def _forward_dead(self, sub: FakeSubscription) -> None:
        """Messages whose next delivery would pass max_delivery_attempts go to the DL topic."""
        if not sub.dead_letter_topic:
            return
        for stored in list(sub.messages):
            if stored.deadline == 0.0 and stored.attempts >= sub.max_delivery_attempts:
                sub.messages.remove(stored)
                attrs = dict(stored.attributes, CloudPubSubDeadLetterSourceDeliveryCount=str(stored.attempts))
                self.publish(sub.dead_letter_topic, stored.data, attrs)

    def _expire(self, sub: FakeSubscription) -> None:
        now = time.monotonic()
        for stored in sub.messages:
            if stored.deadline and stored.deadline <= now:
                stored.deadline = 0.0
                stored.ack_id = ""

    def _live(self, sub: FakeSubscription, ack_id: str) -> _Stored | None:
        self._expire(sub)
        for stored in sub.messages:
            if stored.ack_id == ack_id and stored.deadline:
                return stored
        return None


class _Future:
    def __init__(self, fn: Any) -> None:
        self._future: Future[str] = Future()
        try:
            self._future.set_result(fn())
        except Exception as error:
            self._future.set_exception(error)

    def result(self, timeout: float | None = None) -> str:
        return self._future.result(timeout)


class FakePublisherClient:
    def __init__(self, service: FakePubSub) -> None:
        self.service = service

    def publish(self, topic: str, data: bytes, **attributes: str) -> _Future:
        if not isinstance(data, bytes):
            raise TypeError("Data being published to Pub/Sub must be sent as a bytestring.")
        return _Future(lambda: self.service.publish(topic, data, attributes))


class FakeSubscriberClient:
    def __init__(self, service: FakePubSub) -> None:
        self.service = service

    def pull(self, request: dict[str, Any], timeout: float | None = None, **kwargs: Any) -> Any:
        from google.api_core.exceptions import DeadlineExceeded, InvalidArgument
        from google.pubsub_v1 import types

        sub = self.service.subscription(request["subscription"])
        max_messages = int(request.get("max_messages", 0))
        if max_messages <= 0:
            raise InvalidArgument("max_messages must be > 0")
        deadline = time.monotonic() + (timeout if timeout is not None else 60.0)
        cond = self.service.cond
        with cond:
            while True:
                self.service._expire(sub)
                self.service._forward_dead(sub)
                ready = [s for s in sub.messages if s.deadline == 0.0]
                if ready:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DeadlineExceeded("Deadline Exceeded")
                cond.wait(min(left, 0.05))
            received = []
            for stored in ready[:max_messages]:
                stored.attempts += 1
                stored.ack_id = uuid.uuid4().hex
                stored.deadline = time.monotonic() + sub.ack_deadline_seconds
                received.append(
                    types.ReceivedMessage(
                        ack_id=stored.ack_id,
                        message=types.PubsubMessage(
                            data=stored.data,
                            attributes=stored.attributes,
                            message_id=stored.message_id,
                            publish_time=stored.published,
                        ),
                        delivery_attempt=stored.attempts if sub.dead_letter_topic else 0,
                    )
                )
            return types.PullResponse(received_messages=received)

    def _check_ids(self, sub: FakeSubscription, ack_ids: list[str]) -> list[_Stored]:
        from google.api_core.exceptions import InvalidArgument

        live = [self.service._live(sub, a) for a in ack_ids]
        if sub.exactly_once and any(s is None for s in live):
            raise InvalidArgument("Some acknowledgement ids in the request were invalid.")
        return [s for s in live if s is not None]

    def acknowledge(self, request: dict[str, Any], **kwargs: Any) -> None:
        sub = self.service.subscription(request["subscription"])
        with self.service.cond:
            for stored in self._check_ids(sub, list(request["ack_ids"])):
                sub.messages.remove(stored)

    def modify_ack_deadline(self, request: dict[str, Any], **kwargs: Any) -> None:
        from google.api_core.exceptions import InvalidArgument

        seconds = int(request["ack_deadline_seconds"])
        if not 0 <= seconds <= 600:
            raise InvalidArgument(f"Invalid ack deadline {seconds}: must be between 0 and 600 seconds")
        sub = self.service.subscription(request["subscription"])
        with self.service.cond:
            for stored in self._check_ids(sub, list(request["ack_ids"])):
                if seconds == 0:
                    stored.deadline = 0.0
                    stored.ack_id = ""
                else:
                    stored.deadline = time.monotonic() + seconds
            self.service.cond.notify_all()

    def get_subscription(self, request: dict[str, Any], **kwargs: Any) -> Any:
        from google.pubsub_v1 import types

        sub = self.service.subscription(request["subscription"])
        return types.Subscription(
            name=sub.name, topic=sub.topic, ack_deadline_seconds=sub.ack_deadline_seconds
        )

    def close(self) -> None:
        return None
