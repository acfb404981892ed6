"""The operator commands on Service Bus and Pub/Sub, on the SDK-boundary fakes the runtime tests use
(tests/runtime/fakes/), with dead letters made by the runtime's own backends and by the brokers'
max-delivery rules."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from agentfleet.agent.backends.admin import REDRIVE_ID_ATTRIBUTE
from agentfleet.agent.backends.admin_pubsub import PubSubAdmin, dead_letter_subscription_of
from agentfleet.agent.backends.admin_servicebus import ServiceBusAdmin
from agentfleet.agent.backends.pubsub import PubSubBackend
from agentfleet.agent.backends.servicebus import DELIVERIES_PROPERTY, ServiceBusBackend
from agentfleet.ops.redrive import Journal, Selection, purge, redrive
from agentfleet.ops.status import collect
from tests.ops.helpers import Interrupted, StopAfter, invoke, write_outputs
from tests.runtime.fakes.pubsub import FakePublisherClient, FakePubSub, FakeSubscriberClient
from tests.runtime.fakes.servicebus import FakeAdministrationClient, FakeNamespace, FakeServiceBusClient

# -- Service Bus --------------------------------------------------------------------------------


def servicebus(max_delivery_count: int = 2) -> tuple[ServiceBusBackend, ServiceBusAdmin, FakeNamespace, str]:
    namespace = FakeNamespace()
    name = f"q-{uuid.uuid4().hex[:6]}"
    namespace.create_queue(name, lock_duration=30, max_delivery_count=max_delivery_count)
    backend = ServiceBusBackend(
        FakeServiceBusClient(namespace),
        name,
        admin=FakeAdministrationClient(namespace),
        visibility_timeout=30,
    )
    admin = ServiceBusAdmin(FakeServiceBusClient(namespace), name, admin=FakeAdministrationClient(namespace))
    return backend, admin, namespace, name


def sb_dead_letter(backend: ServiceBusBackend, body: bytes, reason: str, **properties: str) -> None:
    backend.send(body, {"tenant": "acme", **properties})
    (message,) = backend.receive(1, 1)
    backend.dead_letter(message, reason)


def sb_native_dead_letter(backend: ServiceBusBackend, body: bytes) -> None:
    """Abandoned until Service Bus moves it: MaxDeliveryCountExceeded."""
    backend.send(body)
    for _ in range(2):
        (message,) = backend.receive(1, 1)
        backend.release(message)


def test_servicebus_status_list_and_reasons() -> None:
    backend, admin, _, _ = servicebus()
    sb_dead_letter(backend, b'{"order": 42}', "KeyError: customer\ntraceback …")
    sb_native_dead_letter(backend, b'{"order": 7}')
    backend.send(b'{"order": 1}')
    shown = collect(admin, "orders", "azure")
    assert (shown.counts.waiting, shown.counts.in_flight, shown.counts.dead_lettered) == (1, None, 2)
    assert shown.counts.oldest_age_seconds is not None
    assert set(shown.dead_letter_reasons) == {"KeyError: customer", "MaxDeliveryCountExceeded"}
    letters = admin.peek_dead_letters(10)
    assert [m.body for m in letters] == [b'{"order": 42}', b'{"order": 7}']
    assert [m.delivery_count for m in letters] == [1, 2] and letters[0].attributes["tenant"] == "acme"
    assert [m.key for m in admin.peek_dead_letters(1)] == [letters[0].key]


def test_servicebus_redrive_resends_with_properties_and_ids(tmp_path: Path) -> None:
    backend, admin, namespace, name = servicebus()
    sb_dead_letter(backend, b"a", "TimeoutError", **{DELIVERIES_PROPERTY: "4"})
    sb_dead_letter(backend, b"b", "KeyError")
    original_ids = {s.body: s.message_id for s in namespace.queues[name].dead}
    outcome = redrive(admin, Selection(reason="timeout"), Journal.for_queue(tmp_path, "sb"))
    assert (outcome.moved, outcome.left) == (1, 0)
    (copy,) = namespace.queues[name].active
    assert copy.body == b"a" and copy.message_id == original_ids[b"a"]
    assert copy.properties["tenant"] == "acme" and REDRIVE_ID_ATTRIBUTE in copy.properties
    assert DELIVERIES_PROPERTY not in copy.properties, "a redriven copy counts its deliveries from one"
    assert [s.body for s in namespace.queues[name].dead] == [b"b"]
    received = backend.receive(1, 1)
    assert received[0].delivery_count == 1  # handed to an agent, not dead-lettered on receipt


def test_servicebus_interrupted_redrive_rerun_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    backend, admin, namespace, name = servicebus()
    bodies = [f"m{i}".encode() for i in range(12)]
    for body in bodies:
        sb_dead_letter(backend, body, "boom")
    admin.batch_size = 5
    with pytest.raises(Interrupted):
        redrive(StopAfter(admin, batches=1), Selection(reason="boom"), Journal.for_queue(tmp_path, "sb"))  # type: ignore[arg-type]
    rerun = redrive(admin, Selection(reason="boom"), Journal.for_queue(tmp_path, "sb"))
    assert (rerun.moved, rerun.resumed) == (2, 5)
    assert sorted(s.body for s in namespace.queues[name].active) == sorted(bodies)
    assert namespace.queues[name].dead == []


def test_servicebus_purge_and_send() -> None:
    backend, admin, namespace, name = servicebus()
    sb_dead_letter(backend, b"x", "boom")
    sb_dead_letter(backend, b"y", "other")
    assert purge(admin, Selection(reason="boom")).moved == 1
    assert [s.body for s in namespace.queues[name].dead] == [b"y"]
    assert admin.send_batch([b"1", b"2", b"3"]) == 3
    assert [s.body for s in namespace.queues[name].active] == [b"1", b"2", b"3"]


def test_servicebus_outputs_name_what_is_missing(tmp_path: Path) -> None:
    result = invoke(
        "status", "--outputs", write_outputs(tmp_path / "o.json", {"cloud": "azure", "queue": "q"})
    )
    assert result.exit_code == 2 and "no servicebus_namespace, queue_name" in result.output


# -- Pub/Sub ------------------------------------------------------------------------------------

PROJECT = "projects/acme"


def pubsub() -> tuple[PubSubBackend, PubSubAdmin, FakePubSub, dict[str, str]]:
    service = FakePubSub()
    s = uuid.uuid4().hex[:6]
    names = {
        "topic": f"{PROJECT}/topics/f{s}-work",
        "subscription": f"{PROJECT}/subscriptions/f{s}-agents",
        "dead_letter_queue": f"{PROJECT}/topics/f{s}-dead-letter",
    }
    service.create_topic(names["topic"])
    service.create_topic(names["dead_letter_queue"])
    kept = dead_letter_subscription_of(names)
    assert kept == f"{PROJECT}/subscriptions/f{s}-dead-letter-kept"  # the name providers/gcp gives it
    service.create_subscription(kept, names["dead_letter_queue"])
    service.create_subscription(
        names["subscription"],
        names["topic"],
        dead_letter_topic=names["dead_letter_queue"],
        max_delivery_attempts=5,
        exactly_once=True,
    )
    backend = PubSubBackend(
        FakeSubscriberClient(service),
        names["subscription"],
        publisher=FakePublisherClient(service),
        dead_letter_topic=names["dead_letter_queue"],
        topic=names["topic"],
    )
    admin = PubSubAdmin(
        FakeSubscriberClient(service),
        FakePublisherClient(service),
        topic=names["topic"],
        dead_letter_subscription=kept,
        wait_seconds=0.2,
    )
    return backend, admin, service, {**names, "kept": kept}


def ps_dead_letter(backend: PubSubBackend, body: bytes, reason: str) -> None:
    backend.send(body, {"tenant": "acme"})
    (message,) = backend.receive(1, 1)
    backend.dead_letter(message, reason)


def ps_native_dead_letter(backend: PubSubBackend, body: bytes) -> None:
    backend.send(body)
    for _ in range(5):
        (message,) = backend.receive(1, 1)
        backend.release(message)
    assert backend.receive(1, 0.2) == []  # the sixth delivery forwards it to the dead-letter topic


def test_pubsub_list_reasons_and_counts_unknown() -> None:
    backend, admin, service, names = pubsub()
    ps_dead_letter(backend, b'{"order": 42}', "KeyError: customer")
    ps_native_dead_letter(backend, b'{"order": 7}')
    shown = collect(admin, "orders", "gcp")
    assert (shown.counts.waiting, shown.counts.dead_lettered) == (None, None)  # Cloud Monitoring's to tell
    assert set(shown.dead_letter_reasons) == {
        "KeyError: customer",
        "max delivery attempts reached (5 deliveries; Pub/Sub's dead-letter policy)",
    }
    letters = admin.peek_dead_letters(10)
    assert {m.delivery_count for m in letters} == {None, 5}
    # A look leaves every dead letter available.
    assert len(admin.peek_dead_letters(10)) == 2


def test_pubsub_redrive_republishes_with_attributes(tmp_path: Path) -> None:
    backend, admin, service, names = pubsub()
    ps_dead_letter(backend, b"a", "TimeoutError")
    ps_native_dead_letter(backend, b"b")
    outcome = redrive(admin, Selection(), Journal.for_queue(tmp_path, "ps"))
    assert (outcome.moved, outcome.by_broker) == (2, False)
    work = service.subscriptions[names["subscription"]].messages
    assert sorted(m.data for m in work) == [b"a", b"b"]
    for m in work:
        assert REDRIVE_ID_ATTRIBUTE in m.attributes
        assert "agentfleet-dead-letter-reason" not in m.attributes
        assert "CloudPubSubDeadLetterSourceDeliveryCount" not in m.attributes
    assert next(m for m in work if m.data == b"a").attributes["tenant"] == "acme"
    assert service.subscriptions[names["kept"]].messages == []


def test_pubsub_interrupted_redrive_rerun_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    backend, admin, service, names = pubsub()
    bodies = [f"m{i}".encode() for i in range(9)]
    for body in bodies:
        ps_dead_letter(backend, body, "boom")
    admin.batch_size = 4
    with pytest.raises(Interrupted):
        redrive(StopAfter(admin, batches=1), Selection(reason="boom"), Journal.for_queue(tmp_path, "ps"))  # type: ignore[arg-type]
    rerun = redrive(admin, Selection(reason="boom"), Journal.for_queue(tmp_path, "ps"))
    assert (rerun.moved, rerun.resumed) == (1, 4)
    assert sorted(m.data for m in service.subscriptions[names["subscription"]].messages) == bodies
    assert service.subscriptions[names["kept"]].messages == []


def test_pubsub_send_batch(tmp_path: Path) -> None:
    _, admin, service, names = pubsub()
    assert admin.send_batch([json.dumps({"n": i}).encode() for i in range(7)]) == 7
    assert len(service.subscriptions[names["subscription"]].messages) == 7


# -- endpoints: the SDKs' own emulator settings ---------------------------------------------------


def test_pubsub_admin_follows_pubsub_emulator_host(monkeypatch: pytest.MonkeyPatch) -> None:
    from agentfleet.agent.backends.admin import open_admin

    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085")
    outputs = {
        "cloud": "gcp",
        "topic": f"{PROJECT}/topics/f-work",
        "dead_letter_queue": f"{PROJECT}/topics/f-dl",
    }
    admin = open_admin(outputs)
    assert isinstance(admin, PubSubAdmin)
    assert admin.subscriber.target == admin.publisher.target == "127.0.0.1:8085"
    assert admin.dead_letter_subscription == f"{PROJECT}/subscriptions/f-dl-kept"
    stated = open_admin({**outputs, "dead_letter_subscription": f"{PROJECT}/subscriptions/kept"})
    assert (
        isinstance(stated, PubSubAdmin) and stated.dead_letter_subscription == f"{PROJECT}/subscriptions/kept"
    )


def test_servicebus_admin_follows_a_connection_string(monkeypatch: pytest.MonkeyPatch) -> None:
    from agentfleet.agent.backends.admin import open_admin
    from agentfleet.agent.backends.admin_servicebus import CONNECTION_STRING_VARIABLE

    emulator = "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=k;"
    monkeypatch.setenv(CONNECTION_STRING_VARIABLE, emulator + "UseDevelopmentEmulator=true;")
    admin = open_admin(
        {"cloud": "azure", "servicebus_namespace": "fleet.servicebus.windows.net", "queue_name": "q"}
    )
    assert isinstance(admin, ServiceBusAdmin)
    assert admin.client.fully_qualified_namespace == "localhost"
    admin.close()


def test_servicebus_send_fills_batches_to_the_tier_size() -> None:
    _, admin, namespace, name = servicebus()
    bodies = [bytes([65 + i]) * 100_000 for i in range(5)]  # 100 KB each: two fit a 256 KB batch
    batches: list[int] = []
    send = admin._sender.send_messages
    admin._sender.send_messages = lambda batch, **kw: (batches.append(len(batch)), send(batch, **kw))  # type: ignore[method-assign]
    assert admin.send_batch(bodies) == 5
    assert batches == [2, 2, 1]
    assert [s.body for s in namespace.queues[name].active] == bodies


def test_the_servicebus_fake_takes_the_calls_the_admin_makes() -> None:
    from azure.servicebus import ServiceBusMessageBatch, ServiceBusReceiver, ServiceBusSender

    from tests.runtime.fakes import surface_mismatches
    from tests.runtime.fakes.servicebus import FakeMessageBatch, FakeReceiver, FakeSender

    assert surface_mismatches(FakeSender, ServiceBusSender, ["create_message_batch", "send_messages"]) == []
    assert surface_mismatches(FakeMessageBatch, ServiceBusMessageBatch, ["add_message"]) == []
    assert surface_mismatches(FakeReceiver, ServiceBusReceiver, ["peek_messages", "receive_messages"]) == []
