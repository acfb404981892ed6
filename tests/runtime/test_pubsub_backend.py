"""The Pub/Sub backend on a fake at the google-cloud-pubsub SDK boundary (tests/runtime/fakes/
pubsub.py documents which Pub/Sub behaviour each part mirrors)."""

from __future__ import annotations

import time
import uuid

import pytest

from agentfleet.agent.backends.base import BackendError, LeaseLost, QueueBackend
from agentfleet.agent.backends.pubsub import (
    ORIGINAL_ID_ATTRIBUTE,
    REASON_ATTRIBUTE,
    PubSubBackend,
    from_settings,
)
from agentfleet.agent.settings import Settings
from tests.runtime.contract import BackendContract, receive_one
from tests.runtime.fakes.pubsub import FakePublisherClient, FakePubSub, FakeSubscriberClient

PROJECT = "projects/acme"


def make(
    visibility_timeout: int = 10,
    max_receive_count: int = 5,
    *,
    dead_letter_policy: bool = True,
    exactly_once: bool = True,
) -> tuple[PubSubBackend, FakePubSub, str]:
    service = FakePubSub()
    suffix = uuid.uuid4().hex[:6]
    topic, dl_topic = f"{PROJECT}/topics/work-{suffix}", f"{PROJECT}/topics/dead-{suffix}"
    service.create_topic(topic)
    service.create_topic(dl_topic)
    service.create_subscription(f"{PROJECT}/subscriptions/dead-{suffix}", dl_topic)
    subscription = f"{PROJECT}/subscriptions/work-{suffix}"
    service.create_subscription(
        subscription,
        topic,
        ack_deadline_seconds=10,
        dead_letter_topic=dl_topic if dead_letter_policy else "",
        max_delivery_attempts=max_receive_count,
        exactly_once=exactly_once,
    )
    backend = PubSubBackend(
        FakeSubscriberClient(service),
        subscription,
        publisher=FakePublisherClient(service),
        dead_letter_topic=dl_topic,
        visibility_timeout=visibility_timeout,
    )
    return backend, service, f"{PROJECT}/subscriptions/dead-{suffix}"


class TestPubSubBackendContract(BackendContract):
    """Exactly-once delivery on, so a stale ack id is refused; a dead-letter policy, so Pub/Sub
    counts delivery attempts. Its max_delivery_attempts cannot go below 5 (documented)."""

    max_receive_count = 5
    lease_slack = 0.5
    #: Dead-lettered counts (and queue depth) are Cloud Monitoring metrics, not Pub/Sub calls.
    reports_dead_letter_count = False

    def make_backend(self, visibility_timeout: int, max_receive_count: int) -> PubSubBackend:
        return make(visibility_timeout, max_receive_count)[0]

    def test_stats_count_waiting_and_in_flight(self, backend: QueueBackend) -> None:
        """Replaces the shared check: Pub/Sub cannot count its backlog without Cloud Monitoring."""
        with pytest.raises(NotImplementedError, match="pubsub"):
            backend.stats()


def dead_letters(service: FakePubSub, dead_subscription: str) -> list[tuple[bytes, dict[str, str]]]:
    return [(m.data, m.attributes) for m in service.subscription(dead_subscription).messages]


def test_receive_sets_the_ack_deadline_to_the_visibility_timeout() -> None:
    backend, service, _ = make(visibility_timeout=30)
    backend.send(b"x")
    message = receive_one(backend, 2)
    assert message is not None
    (stored,) = service.subscription(backend.subscription).messages
    assert 28 < stored.deadline - time.monotonic() <= 30  # not the subscription's 10 s


def test_deadline_beyond_ten_minutes_is_clamped() -> None:
    backend, _, _ = make(visibility_timeout=3600)
    assert backend.visibility_timeout == 600
    backend.send(b"x")
    message = receive_one(backend, 2)
    assert message is not None
    backend.extend_lease(message, 7200)  # the fake refuses anything above 600: this went through


def test_long_task_held_past_an_hour_is_not_capped_by_a_lease_ceiling() -> None:
    """Our extensions have no max_lease_duration: a (simulated) long run keeps its lease."""
    now = [0.0]
    backend, service, _ = make(visibility_timeout=10)
    backend._clock = lambda: now[0]
    backend.send(b"long")
    message = receive_one(backend, 2)
    assert message is not None
    for _ in range(400):  # 400 x 10 s of our clock = 66 minutes of extensions
        now[0] += 9
        backend.extend_lease(message, 10)
    backend.ack(message)
    assert service.subscription(backend.subscription).messages == []


def test_delivery_count_without_a_dead_letter_policy_is_reported_as_one() -> None:
    backend, _, _ = make(dead_letter_policy=False)
    backend.send(b"x")
    first = receive_one(backend, 2)
    assert first is not None and first.delivery_count == 1
    backend.release(first, 0)
    second = receive_one(backend, 2)
    assert second is not None and second.delivery_count == 1  # Pub/Sub does not count here


def test_permanent_failure_is_published_to_the_dead_letter_topic_then_acked() -> None:
    backend, service, dead_sub = make()
    backend.send(b"poison", {"tenant": "acme"})
    message = receive_one(backend, 2)
    assert message is not None
    backend.dead_letter(message, "PermanentError: bad input")
    ((body, attrs),) = dead_letters(service, dead_sub)
    assert body == b"poison"
    assert attrs[REASON_ATTRIBUTE] == "PermanentError: bad input"
    assert attrs[ORIGINAL_ID_ATTRIBUTE] == message.id
    assert attrs["tenant"] == "acme"
    assert service.subscription(backend.subscription).messages == []


def test_native_dead_letter_policy_forwards_after_max_attempts() -> None:
    backend, service, dead_sub = make(visibility_timeout=10, max_receive_count=5)
    backend.send(b"fails")
    for attempt in range(1, 6):
        message = receive_one(backend, 2)
        assert message is not None and message.delivery_count == attempt
        backend.release(message, 0)
    assert receive_one(backend, 0.5) is None
    ((_, attrs),) = dead_letters(service, dead_sub)
    assert attrs["CloudPubSubDeadLetterSourceDeliveryCount"] == "5"


def test_dead_letter_without_a_topic_names_the_variable() -> None:
    backend, _, _ = make()
    backend.dead_letter_topic = ""
    backend.send(b"x")
    message = receive_one(backend, 2)
    assert message is not None
    with pytest.raises(BackendError, match="AGENTFLEET_DEAD_LETTER_QUEUE"):
        backend.dead_letter(message, "why")


def test_late_ack_without_exactly_once_is_silently_dropped_and_redelivered() -> None:
    """Why ctx.once matters on Pub/Sub: an ack after the deadline does not count, and says nothing."""
    backend, service, _ = make(visibility_timeout=1, exactly_once=False)
    backend.send(b"x")
    first = receive_one(backend, 2)
    assert first is not None
    time.sleep(1.1)
    backend.ack(first)  # no error ...
    again = receive_one(backend, 1)
    assert again is not None and again.id == first.id  # ... and the message is back


def test_missing_subscription_names_the_variable() -> None:
    service = FakePubSub()
    backend = PubSubBackend(FakeSubscriberClient(service), f"{PROJECT}/subscriptions/missing")
    with pytest.raises(BackendError, match="AGENTFLEET_QUEUE"):
        backend.receive(1, 0.1)


def test_subscription_path_is_checked() -> None:
    with pytest.raises(ValueError, match="AGENTFLEET_QUEUE"):
        PubSubBackend(object(), "work")


def test_stale_ack_with_exactly_once_is_lease_lost() -> None:
    backend, _, _ = make(visibility_timeout=1)
    backend.send(b"x")
    first = receive_one(backend, 2)
    assert first is not None
    time.sleep(1.1)
    with pytest.raises(LeaseLost):
        backend.ack(first)


def test_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:9")  # no credentials lookup; nothing is called
    settings = Settings(
        backend="pubsub",
        queue=f"{PROJECT}/subscriptions/work",
        dead_letter_queue=f"{PROJECT}/topics/dead",
        visibility_timeout=120,
    )
    backend = from_settings(settings)
    assert (backend.subscription, backend.dead_letter_topic, backend.visibility_timeout) == (
        f"{PROJECT}/subscriptions/work",
        f"{PROJECT}/topics/dead",
        120,
    )
    from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient  # type: ignore[import-untyped]

    assert isinstance(backend.subscriber, SubscriberClient)
    assert isinstance(backend.publisher, PublisherClient)
    backend.close()


def test_importing_the_module_loads_no_cloud_sdk() -> None:
    """The SDK is imported when the backend is opened, never by importing the runtime."""
    from tests.runtime.peers import sdks_loaded_by_import

    assert sdks_loaded_by_import("agentfleet.agent.backends.pubsub") == []


def test_the_worker_over_pubsub() -> None:
    from tests.runtime.peers import assert_scenario, run_worker_scenario

    backend, service, dead_sub = make(visibility_timeout=2, max_receive_count=5)
    assert_scenario(run_worker_scenario(backend, visibility_timeout=2, max_receive_count=5))
    ((body, attrs),) = dead_letters(service, dead_sub)
    assert body == b"poison" and attrs[REASON_ATTRIBUTE] == "PermanentError: order 42 has no customer"
    assert service.subscription(backend.subscription).messages == []


def test_the_fake_takes_the_sdk_calls() -> None:
    from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient

    from tests.runtime.fakes import surface_mismatches

    subscriber_calls = ["pull", "acknowledge", "modify_ack_deadline", "get_subscription", "close"]
    assert surface_mismatches(FakeSubscriberClient, SubscriberClient, subscriber_calls) == []
    assert surface_mismatches(FakePublisherClient, PublisherClient, ["publish"]) == []


def test_ack_batch_acknowledges_many_ack_ids_in_one_request() -> None:
    backend, _, _ = make(visibility_timeout=30)
    for i in range(5):
        backend.send(str(i).encode())
    got = []
    while len(got) < 5:
        got.extend(backend.receive(10, 1))
    calls: list[int] = []
    acknowledge = backend.subscriber.acknowledge

    def recording(request: dict, **kwargs: object) -> None:
        calls.append(len(request["ack_ids"]))
        acknowledge(request=request, **kwargs)

    backend.subscriber.acknowledge = recording
    assert backend.ack_batch(got) == [None] * 5
    assert calls == [5], "one request for the batch"
    assert backend.receive(10, 0.5) == []


def test_ack_batch_reports_a_refused_ack_id_as_lease_lost_for_that_message_only() -> None:
    backend, _, _ = make(visibility_timeout=1)  # exactly-once: an expired ack id is refused
    backend.send(b"stale")
    stale = receive_one(backend, 2)
    assert stale is not None
    time.sleep(1.1)
    backend.send(b"fresh")
    fresh = None
    while fresh is None or fresh.body != b"fresh":
        fresh = receive_one(backend, 2)
        if fresh is not None and fresh.body != b"fresh":
            backend.release(fresh, 30)  # the redelivered stale one: out of the way
    results = backend.ack_batch([stale, fresh])
    assert isinstance(results[0], LeaseLost) and results[1] is None
