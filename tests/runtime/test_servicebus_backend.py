"""The Service Bus backend on a fake at the azure-servicebus SDK boundary (tests/runtime/fakes/
servicebus.py documents which SDK / service behaviour each part mirrors)."""

from __future__ import annotations

import time
import uuid

import pytest

from agentfleet.agent.backends.base import BackendError, LeaseLost
from agentfleet.agent.backends.servicebus import (
    DELIVERIES_PROPERTY,
    ORIGINAL_ID_PROPERTY,
    ServiceBusBackend,
    from_settings,
)
from agentfleet.agent.settings import Settings
from tests.runtime.contract import BackendContract, receive_one
from tests.runtime.fakes.servicebus import (
    FakeAdministrationClient,
    FakeNamespace,
    FakeQueue,
    FakeServiceBusClient,
)


def make(
    visibility_timeout: int = 1, max_receive_count: int = 3, renew_latency: float = 0.0
) -> tuple[ServiceBusBackend, FakeQueue]:
    namespace = FakeNamespace()
    queue = namespace.create_queue(
        f"q-{uuid.uuid4().hex[:6]}", lock_duration=visibility_timeout, max_delivery_count=max_receive_count
    )
    queue.renew_latency = renew_latency
    backend = ServiceBusBackend(
        FakeServiceBusClient(namespace),
        queue.name,
        admin=FakeAdministrationClient(namespace),
        visibility_timeout=visibility_timeout,
        max_receive_count=max_receive_count,
    )
    return backend, queue


class TestServiceBusBackendContract(BackendContract):
    lease_slack = 0.5

    def make_backend(self, visibility_timeout: int, max_receive_count: int) -> ServiceBusBackend:
        return make(visibility_timeout, max_receive_count)[0]


def test_first_delivery_counts_one_although_the_sdk_says_zero() -> None:
    backend, queue = make(visibility_timeout=5)
    backend.send(b"x", {"tenant": "acme"})
    message = receive_one(backend, 2)
    assert message is not None
    assert message.delivery_count == 1 and queue.active[0].delivery_count == 0
    assert message.attributes == {"tenant": "acme"}  # decoded from the SDK's bytes


def test_renewing_early_keeps_the_lock_across_several_lock_durations() -> None:
    backend, _ = make(visibility_timeout=1, renew_latency=0.2)
    backend.send(b"long")
    message = receive_one(backend, 2)
    assert message is not None
    until = time.monotonic() + 3.0
    while time.monotonic() < until:
        backend.extend_lease(message, 1)  # at about 1/3 of the lock, like the lease keeper
        time.sleep(0.3)
    backend.ack(message)
    assert backend.stats().waiting == 0 and backend.stats().dead_lettered == 0


def test_renewal_that_arrives_after_the_lock_ended_is_lease_lost() -> None:
    """azure-service-bus#692: renewing at the last moment (here: 0.1 s left, 0.3 s trip) fails."""
    backend, _ = make(visibility_timeout=1, renew_latency=0.3)
    backend.send(b"late")
    message = receive_one(backend, 2)
    assert message is not None
    time.sleep(0.9)
    with pytest.raises(LeaseLost):
        backend.extend_lease(message, 1)


def test_renewal_after_our_lock_end_is_refused_without_asking() -> None:
    backend, _ = make(visibility_timeout=1)
    backend.send(b"x")
    message = receive_one(backend, 2)
    assert message is not None
    time.sleep(1.1)
    with pytest.raises(LeaseLost, match="renew earlier"):
        backend.extend_lease(message, 1)


def test_delayed_release_schedules_a_copy_that_keeps_id_and_count() -> None:
    backend, queue = make(visibility_timeout=5, max_receive_count=5)
    backend.send(b"retry me", {"tenant": "acme"})
    first = receive_one(backend, 2)
    assert first is not None
    backend.release(first, 2)
    assert backend.stats().dead_lettered == 0
    assert len(queue.active) == 1 and queue.active[0].properties[ORIGINAL_ID_PROPERTY] == first.id
    assert backend.receive(1, 1.5) == []
    again = receive_one(backend, 2)
    assert again is not None
    assert (again.id, again.body, again.delivery_count) == (first.id, b"retry me", 2)
    assert again.attributes == {"tenant": "acme"}  # our bookkeeping properties are hidden


def test_scheduled_copies_past_max_receive_count_are_dead_lettered_by_the_backend() -> None:
    backend, queue = make(visibility_timeout=5, max_receive_count=2)
    backend.send(b"poison")
    first = receive_one(backend, 2)
    assert first is not None
    backend.release(first, 1)
    second = receive_one(backend, 3)
    assert second is not None and second.delivery_count == 2
    backend.release(second, 1)
    assert receive_one(backend, 2.5) is None
    (dead,) = queue.dead
    assert dead.dead_letter_reason == "MaxDeliveryCountExceeded"
    assert dead.properties[DELIVERIES_PROPERTY] == "2"


def test_dead_letter_records_reason_and_description() -> None:
    backend, queue = make(visibility_timeout=5)
    backend.send(b"bad")
    message = receive_one(backend, 2)
    assert message is not None
    backend.dead_letter(message, "PermanentError: bad input\nTraceback ...")
    (dead,) = queue.dead
    assert dead.dead_letter_reason == "PermanentError: bad input"
    assert dead.dead_letter_error_description == "PermanentError: bad input\nTraceback ..."


def test_release_after_the_lock_ended_does_not_duplicate() -> None:
    backend, queue = make(visibility_timeout=1, max_receive_count=5)
    backend.send(b"x")
    message = receive_one(backend, 2)
    assert message is not None
    time.sleep(1.1)
    backend.release(message, 3)  # no copy: the broker already gives it back
    again = receive_one(backend, 1)
    assert again is not None and again.delivery_count == 2
    assert len(queue.active) == 1


def test_missing_queue_names_the_variable() -> None:
    namespace = FakeNamespace()
    backend = ServiceBusBackend(FakeServiceBusClient(namespace), "missing")
    with pytest.raises(BackendError, match="AGENTFLEET_QUEUE"):
        backend.receive(1, 0.1)


def test_lock_duration_is_clamped_to_five_minutes() -> None:
    backend, _ = make(visibility_timeout=1)
    clamped = ServiceBusBackend(backend.client, backend.queue_name, visibility_timeout=900)
    assert clamped.visibility_timeout == 300


def test_from_settings_uses_the_namespace_and_managed_identity() -> None:
    settings = Settings(
        backend="servicebus",
        queue="work",
        servicebus_namespace="fleet-ns.servicebus.windows.net",
        visibility_timeout=600,
        max_receive_count=7,
    )
    backend = from_settings(settings)
    try:
        assert backend.client.fully_qualified_namespace == "fleet-ns.servicebus.windows.net"
        assert (backend.queue_name, backend.visibility_timeout, backend.max_receive_count) == ("work", 300, 7)
        assert type(backend.client._credential).__name__ == "DefaultAzureCredential"
    finally:
        backend.close()


def test_importing_the_module_loads_no_cloud_sdk() -> None:
    """The SDK is imported when the backend is opened, never by importing the runtime."""
    from tests.runtime.peers import sdks_loaded_by_import

    assert sdks_loaded_by_import("agentfleet.agent.backends.servicebus") == []


def test_the_worker_over_service_bus() -> None:
    """Includes a retry with backoff, which goes through a scheduled copy."""
    from tests.runtime.peers import assert_scenario, run_worker_scenario

    backend, queue = make(visibility_timeout=2, max_receive_count=3)
    assert_scenario(run_worker_scenario(backend, visibility_timeout=2, max_receive_count=3))
    assert [d.body for d in queue.dead] == [b"poison"]
    assert queue.dead[0].dead_letter_reason == "PermanentError: order 42 has no customer"
    assert queue.active == []


def test_the_fake_takes_the_sdk_calls() -> None:
    from azure.servicebus import ServiceBusClient, ServiceBusReceiver, ServiceBusSender
    from azure.servicebus.management import ServiceBusAdministrationClient

    from tests.runtime.fakes import surface_mismatches
    from tests.runtime.fakes.servicebus import FakeAdministrationClient, FakeReceiver, FakeSender

    receiver_calls = [
        "receive_messages",
        "complete_message",
        "abandon_message",
        "dead_letter_message",
        "renew_message_lock",
        "peek_messages",
        "close",
    ]
    assert (
        surface_mismatches(FakeServiceBusClient, ServiceBusClient, ["get_queue_receiver", "get_queue_sender"])
        == []
    )
    assert surface_mismatches(FakeReceiver, ServiceBusReceiver, receiver_calls) == []
    assert (
        surface_mismatches(FakeSender, ServiceBusSender, ["send_messages", "schedule_messages", "close"])
        == []
    )
    admin_calls = ["get_queue_runtime_properties"]
    assert surface_mismatches(FakeAdministrationClient, ServiceBusAdministrationClient, admin_calls) == []
