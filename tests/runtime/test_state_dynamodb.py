"""The DynamoDB state store against moto's server mode (boto3 over HTTP)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from agentfleet.agent.handler import PermanentError
from agentfleet.agent.settings import Settings
from agentfleet.agent.state.base import DONE_KEPT_SECONDS, ConflictError, Once, StateError, StateRejected
from agentfleet.agent.state.dynamodb import EXPIRES_ATTRIBUTE, DynamoDBStore, from_settings
from tests.runtime.contract import StateStoreContract
from tests.runtime.peers import MotoServer

pytestmark = pytest.mark.peer


def create_table(server: MotoServer) -> str:
    """The table as the AWS provider declares it: on demand, partition key `key` (S)."""
    client: Any = server.client("dynamodb")
    name = f"state-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


@pytest.fixture
def store(moto_server_serial: MotoServer) -> DynamoDBStore:
    return DynamoDBStore(moto_server_serial.client("dynamodb"), create_table(moto_server_serial))


class TestDynamoDBStateContract(StateStoreContract):
    """The shared state contract on a real moto server (boto3 over HTTP)."""

    @pytest.fixture(autouse=True)
    def _server(self, moto_server_serial: MotoServer) -> None:
        self.server = moto_server_serial

    def make_store(self) -> DynamoDBStore:
        return DynamoDBStore(self.server.client("dynamodb"), create_table(self.server))


def test_put_if_absent_is_a_claim(store: DynamoDBStore) -> None:
    first = store.put("order-1", {"n": 1}, if_absent=True)
    assert (first.version, first.value) == (1, {"n": 1})
    with pytest.raises(ConflictError, match="order-1"):
        store.put("order-1", {"n": 2}, if_absent=True)
    assert store.get("order-1") == first


def test_compare_and_set_bumps_version_and_refuses_stale_writers(store: DynamoDBStore) -> None:
    store.put("k", {"n": 1})
    second = store.put("k", {"n": 2}, if_version=1)
    assert second.version == 2
    with pytest.raises(ConflictError):
        store.put("k", {"n": 3}, if_version=1)
    unconditional = store.put("k", {"n": 4})
    assert unconditional.version == 3 and store.get("k") == unconditional


def test_conditional_delete(store: DynamoDBStore) -> None:
    store.put("k", {"x": True})
    with pytest.raises(ConflictError):
        store.delete("k", if_version=7)
    store.delete("k", if_version=1)
    assert store.get("k") is None
    store.delete("k")  # absent, unconditional: no error
    with pytest.raises(ConflictError):
        store.delete("k", if_version=1)


def test_missing_table_names_the_variable(moto_server_serial: MotoServer) -> None:
    store = DynamoDBStore(moto_server_serial.client("dynamodb"), "no-such-table")
    with pytest.raises(StateError, match="AGENTFLEET_STATE"):
        store.get("k")


def test_from_settings(moto_server_serial: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", moto_server_serial.endpoint_url)
    table = create_table(moto_server_serial)
    store = from_settings(Settings(backend="sqs", queue="q", state=table, region="us-east-1"))
    assert store.put("k", {"a": 1}, if_absent=True).version == 1


def test_importing_the_module_loads_no_cloud_sdk() -> None:
    """The SDK is imported when the backend is opened, never by importing the runtime."""
    from tests.runtime.peers import sdks_loaded_by_import

    assert sdks_loaded_by_import("agentfleet.agent.state.dynamodb") == []


# -- TTL (issue 15, finding 11) --------------------------------------------------------------


def raw_item(store: DynamoDBStore, key: str) -> dict[str, Any]:
    item: dict[str, Any] = store.client.get_item(TableName=store.table, Key={"key": {"S": key}})["Item"]
    return item


def test_an_expiry_is_the_numeric_top_level_attribute_the_table_ttl_names(store: DynamoDBStore) -> None:
    from agentfleet.providers.aws.state import TTL_ATTRIBUTE

    assert EXPIRES_ATTRIBUTE == TTL_ATTRIBUTE
    store.put("k", {"n": 1}, expires_at=1_900_000_000.2)
    assert raw_item(store, "k")[EXPIRES_ATTRIBUTE] == {"N": "1900000001"}  # whole epoch seconds, not early
    store.put("k", {"n": 2}, if_version=1)
    assert EXPIRES_ATTRIBUTE not in raw_item(store, "k"), "a value written without an expiry keeps none"


def test_once_claims_and_done_records_expire(store: DynamoDBStore) -> None:
    claim = Once(store, "order-7", claim_seconds=60)
    assert claim.acquire()
    pending = raw_item(store, "once:order-7")
    assert abs(int(pending[EXPIRES_ATTRIBUTE]["N"]) - (time.time() + 60)) < 5
    claim.commit()
    done = raw_item(store, "once:order-7")
    assert abs(int(done[EXPIRES_ATTRIBUTE]["N"]) - (time.time() + DONE_KEPT_SECONDS)) < 5


def test_a_request_the_service_refuses_is_permanent_with_its_reason(store: DynamoDBStore) -> None:
    with pytest.raises(StateRejected, match="DynamoDB refused the write") as refused:
        store.put("k" * 3000, {"n": 1})  # a partition key holds at most 2,048 bytes
    assert isinstance(refused.value, PermanentError) and not isinstance(refused.value, StateError)
