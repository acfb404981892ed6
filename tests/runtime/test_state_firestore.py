"""The Firestore state store on a fake at the google-cloud-firestore SDK boundary
(tests/runtime/fakes/firestore.py documents the behaviour it mirrors)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from agentfleet.agent.settings import Settings
from agentfleet.agent.state.base import DONE_KEPT_SECONDS, ConflictError, Once
from agentfleet.agent.state.firestore import EXPIRES_FIELD, FirestoreStore, document_id, from_settings
from tests.runtime.contract import StateStoreContract
from tests.runtime.fakes.firestore import FakeFirestore


class TestFirestoreStateContract(StateStoreContract):
    def make_store(self) -> FirestoreStore:
        return FirestoreStore(FakeFirestore(), "agentfleet-state")


def test_a_write_between_read_and_update_is_refused_by_the_precondition() -> None:
    db = FakeFirestore()
    store = FirestoreStore(db, "s")
    store.put("k", {"n": 1})
    found = store._get("k")
    assert found is not None
    store.put("k", {"n": 2}, if_version=1)
    with pytest.raises(ConflictError):
        store._replace("k", {"n": 99}, 2, found[1])
    item = store.get("k")
    assert item is not None and item.value == {"n": 2}


@pytest.mark.parametrize("key", ["a/b", ".", "..", "__reserved__", "100%", "", "%2F"])
def test_awkward_keys_map_to_valid_distinct_document_ids(key: str) -> None:
    store = FirestoreStore(FakeFirestore(), "s")
    store.put(key, {"key": key}, if_absent=True)
    item = store.get(key)
    assert item is not None and item.value == {"key": key}


def test_document_ids_are_one_to_one() -> None:
    keys = ["a/b", "a%2Fb", ".", "%.", "__x__", "%__x__", "", "%"]
    assert len({document_id(k) for k in keys}) == len(keys)


def test_from_settings_uses_the_collection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:9")  # no credential lookup; nothing is called
    store = from_settings(Settings(backend="pubsub", queue="q", state="agent-state", region="acme-prod"))
    assert (store.collection, store.client.project) == ("agent-state", "acme-prod")


def test_importing_the_module_loads_no_cloud_sdk() -> None:
    """The SDK is imported when the backend is opened, never by importing the runtime."""
    from tests.runtime.peers import sdks_loaded_by_import

    assert sdks_loaded_by_import("agentfleet.agent.state.firestore") == []


def test_the_fake_takes_the_sdk_calls() -> None:
    from google.cloud.firestore_v1.client import Client
    from google.cloud.firestore_v1.document import DocumentReference

    from tests.runtime.fakes import surface_mismatches
    from tests.runtime.fakes.firestore import FakeDocumentReference

    assert surface_mismatches(FakeFirestore, Client, ["collection", "write_option"]) == []
    assert (
        surface_mismatches(FakeDocumentReference, DocumentReference, ["get", "create", "update", "delete"])
        == []
    )


# -- TTL (issue 15, finding 11) --------------------------------------------------------------


def stored_fields(db: FakeFirestore, key: str) -> dict[str, Any]:
    return db.docs[("agentfleet-state", document_id(key))][0]


def test_an_expiry_is_a_timestamp_field_for_a_ttl_policy() -> None:
    db = FakeFirestore()
    store = FirestoreStore(db, "agentfleet-state")
    store.put("k", {"n": 1}, expires_at=1_900_000_000.0)
    expires = stored_fields(db, "k")[EXPIRES_FIELD]
    assert expires == dt.datetime.fromtimestamp(1_900_000_000, dt.UTC)  # a Timestamp, in UTC
    store.put("k", {"n": 2}, if_version=1)
    assert EXPIRES_FIELD not in stored_fields(db, "k"), "a value written without an expiry keeps none"
    store.put("k", {"n": 3}, expires_at=1_900_000_100.0)
    assert stored_fields(db, "k")[EXPIRES_FIELD].timestamp() == 1_900_000_100


def test_once_claims_and_done_records_expire() -> None:
    db = FakeFirestore()
    store = FirestoreStore(db, "agentfleet-state")
    claim = Once(store, "order-7", claim_seconds=60)
    assert claim.acquire()
    assert abs(stored_fields(db, "once:order-7")[EXPIRES_FIELD].timestamp() - (time.time() + 60)) < 5
    claim.commit()
    kept = stored_fields(db, "once:order-7")[EXPIRES_FIELD].timestamp() - time.time()
    assert abs(kept - DONE_KEPT_SECONDS) < 5
