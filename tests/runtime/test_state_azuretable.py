"""The Azure Table state store against Azurite (the Azure Storage emulator), over HTTP."""

from __future__ import annotations

import time
import uuid

import pytest

from agentfleet.agent.handler import PermanentError
from agentfleet.agent.state.azuretable import EXPIRES_PROPERTY, AzureTableStore, escape_key, split_state_url
from agentfleet.agent.state.base import DONE_KEPT_SECONDS, ConflictError, Once, StateError, StateRejected
from tests.runtime.contract import StateStoreContract
from tests.runtime.peers import Azurite

pytestmark = pytest.mark.peer


def make_store(peer: Azurite, sweep_every: float | None = None) -> AzureTableStore:
    from azure.data.tables import TableServiceClient

    service = TableServiceClient.from_connection_string(peer.connection_string)
    table = service.create_table(f"state{uuid.uuid4().hex[:12]}")
    return AzureTableStore(table, sweep_every=sweep_every)


@pytest.fixture
def store(azurite: Azurite) -> AzureTableStore:
    return make_store(azurite)


class TestAzureTableStateContract(StateStoreContract):
    """The shared state contract on Azurite's Table service (azure-data-tables over HTTP)."""

    @pytest.fixture(autouse=True)
    def _peer(self, azurite: Azurite) -> None:
        self.peer = azurite

    def make_store(self) -> AzureTableStore:
        return make_store(self.peer)


def test_put_if_absent_is_a_claim(store: AzureTableStore) -> None:
    first = store.put("order/1", {"n": 1}, if_absent=True)
    assert first.version == 1
    with pytest.raises(ConflictError, match="order/1"):
        store.put("order/1", {"n": 2}, if_absent=True)
    assert store.get("order/1") == first


def test_compare_and_set_uses_etags(store: AzureTableStore) -> None:
    store.put("k", {"n": 1})
    assert store.put("k", {"n": 2}, if_version=1).version == 2
    with pytest.raises(ConflictError):
        store.put("k", {"n": 3}, if_version=1)
    assert store.put("k", {"n": 4}).version == 3
    item = store.get("k")
    assert item is not None and (item.value, item.version) == ({"n": 4}, 3)


def test_write_between_read_and_replace_is_refused_by_the_service(store: AzureTableStore) -> None:
    """The etag condition, not our version check, is what makes compare-and-set atomic."""
    store.put("k", {"n": 1})
    _, stale_etag = store._get("k") or (None, "")
    store.put("k", {"n": 2}, if_version=1)
    with pytest.raises(ConflictError):
        store._replace("k", {"n": 99}, 2, stale_etag)


def test_conditional_delete(store: AzureTableStore) -> None:
    store.put("k", {})
    with pytest.raises(ConflictError):
        store.delete("k", if_version=5)
    store.delete("k", if_version=1)
    assert store.get("k") is None
    store.delete("k")


def test_keys_with_forbidden_characters_round_trip(store: AzureTableStore) -> None:
    for key in ("a/b", "a#b", "a?b", "a\\b", "100%", "tab\tkey"):
        store.put(key, {"key": key}, if_absent=True)
        item = store.get(key)
        assert item is not None and item.value == {"key": key}
    assert escape_key("a/b") != escape_key("a%2Fb")


def test_state_url_is_split_into_endpoint_and_table() -> None:
    assert split_state_url("https://acct.table.core.windows.net/state") == (
        "https://acct.table.core.windows.net",
        "state",
    )
    with pytest.raises(ValueError, match="AGENTFLEET_STATE"):
        split_state_url("state")


def test_from_settings_uses_the_table_url_and_managed_identity() -> None:
    from agentfleet.agent.settings import Settings
    from agentfleet.agent.state.azuretable import from_settings

    settings = Settings(
        backend="servicebus",
        queue="q",
        servicebus_namespace="ns.servicebus.windows.net",
        state="https://acct.table.core.windows.net/agentstate",
    )
    store = from_settings(settings)
    assert store.table.table_name == "agentstate"
    assert store.table.account_name == "acct"
    assert type(store.table.credential).__name__ == "DefaultAzureCredential"


def test_importing_the_module_loads_no_cloud_sdk() -> None:
    """The SDK is imported when the backend is opened, never by importing the runtime."""
    from tests.runtime.peers import sdks_loaded_by_import

    assert sdks_loaded_by_import("agentfleet.agent.state.azuretable") == []


# -- expiry: Azure Table has no TTL, so the store sweeps (issue 15, finding 11) ---------------


def test_a_sweep_deletes_expired_entities_only(store: AzureTableStore) -> None:
    store.put("gone", {"n": 1}, expires_at=time.time() - 10)
    store.put("live", {"n": 1}, expires_at=time.time() + 3600)
    store.put("forever", {"n": 1})
    assert store.sweep_expired() == 1
    assert store.get("gone") is None
    assert store.get("live") is not None and store.get("forever") is not None


def test_a_sweep_keeps_an_entity_rewritten_after_it_was_found(store: AzureTableStore) -> None:
    store.put("k", {"n": 1}, expires_at=time.time() - 10)
    found = list(store.expired_entities(time.time()))
    store.put("k", {"n": 2})  # a new claim between the sweep's query and its delete
    assert [store.delete_unchanged(entity) for entity in found] == [False]
    item = store.get("k")
    assert item is not None and item.value == {"n": 2}


def test_once_records_carry_their_expiry(store: AzureTableStore) -> None:
    claim = Once(store, "order-7", claim_seconds=60)
    assert claim.acquire()
    entity = store.table.get_entity("agentfleet", escape_key("once:order-7"))
    assert abs(entity[EXPIRES_PROPERTY].timestamp() - (time.time() + 60)) < 5
    claim.commit()
    entity = store.table.get_entity("agentfleet", escape_key("once:order-7"))
    assert abs(entity[EXPIRES_PROPERTY].timestamp() - (time.time() + DONE_KEPT_SECONDS)) < 5


def test_an_agent_store_sweeps_in_the_background(azurite: Azurite) -> None:
    store = make_store(azurite, sweep_every=0.2)
    try:
        store.put("gone", {}, expires_at=time.time() - 1)
        deadline = time.monotonic() + 20
        while store.get("gone") is not None:
            assert time.monotonic() < deadline, "the background sweep never ran"
            time.sleep(0.05)
    finally:
        store.close()


# -- what the service refuses (issue 15, finding 12) -----------------------------------------


def test_a_value_past_64_kib_is_split_within_the_entity_limits(store: AzureTableStore) -> None:
    value = {"text": "x" * 399_000}
    store.put("big", value)
    entity = store.table.get_entity("agentfleet", "big")
    parts = [name for name in entity if name.startswith("value")]
    assert len(parts) == 13 and all(len(entity[name]) <= 32_768 for name in parts)
    item = store.get("big")
    assert item is not None and item.value == value


def test_a_request_the_service_refuses_is_permanent_with_its_reason(store: AzureTableStore) -> None:
    with pytest.raises(StateRejected, match="Azure Table refused the request \\(400\\)") as refused:
        store.put("k" * 2000, {"n": 1})  # a RowKey holds at most 1 KiB
    assert isinstance(refused.value, PermanentError) and not isinstance(refused.value, StateError)
