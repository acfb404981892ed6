"""Firestore state store (google-cloud-firestore): create / update with a precondition.

AGENTFLEET_STATE is the collection. One document per key (the key escaped into a valid document
id), fields `value` (the JSON-encoded object, so any JSON round-trips exactly), `version` and,
when the write gave one, `expires_at`: a Timestamp, the field a TTL policy on the collection
names ("Storing a timestamp value into a TTL-enabled field will be treated as the document's
absolute expiration time. Using any other data type or leaving the field absent will disable
expiration for the individual document", Firestore Admin API, Field.TtlConfig). The policy itself
is infrastructure (a `gcp.firestore.Field` with `ttl_config` on `expires_at`).

- put-if-absent: `DocumentReference.create()`, which fails with 409 AlreadyExists (Conflict) if
  the document exists.
- compare-and-set: read the snapshot, check `version`, then `update(...,
  option=client.write_option(last_update_time=snapshot.update_time))`: Firestore refuses with
  FailedPrecondition if the document changed since that read, so read-check-write is atomic.
- delete with a version: likewise `delete(option=write_option(last_update_time=...))`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from agentfleet.agent.state.base import ConflictError, Item, StateError, StateRejected, encode_value
from agentfleet.agent.state.optimistic import OptimisticStore, utc_time

if TYPE_CHECKING:
    from agentfleet.agent.settings import Settings

#: The Timestamp field a Firestore TTL policy deletes expired documents by.
EXPIRES_FIELD = "expires_at"


def document_id(key: str) -> str:
    """A valid, 1:1 document id: '/' and '%' become %XX; '.', '..' and '__x__' get a '%' prefix."""
    escaped = key.replace("%", "%25").replace("/", "%2F")
    if escaped in ("", ".", "..") or (escaped.startswith("__") and escaped.endswith("__")):
        escaped = "%" + escaped
    return escaped


class FirestoreStore(OptimisticStore[Any]):
    """One Firestore collection through a google.cloud.firestore.Client."""

    service = "Firestore"
    name = "firestore"

    def __init__(self, client: Any, collection: str) -> None:
        if not collection:
            raise ValueError("AGENTFLEET_STATE is empty: the Firestore store needs the collection name")
        self.client = client
        self.collection = collection

    def _doc(self, key: str) -> Any:
        return self.client.collection(self.collection).document(document_id(key))

    def delete(self, key: str, *, if_version: int | None = None) -> None:
        from google.api_core import exceptions

        if if_version is None:
            self._call(lambda: self._doc(key).delete())
            return
        found = self._get(key)
        if found is None or found[0].version != if_version:
            have = "no such key" if found is None else f"version is {found[0].version}"
            raise ConflictError(key, f"{have}, not {if_version}")
        option = self.client.write_option(last_update_time=found[1])
        try:
            self._call(lambda: self._doc(key).delete(option=option))
        except (exceptions.FailedPrecondition, exceptions.NotFound) as error:
            raise ConflictError(key, "written or deleted since it was read") from error

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if close is not None:
            close()

    # -- helpers ----------------------------------------------------------------------------

    def _get(self, key: str) -> tuple[Item, Any] | None:
        snapshot = self._call(lambda: self._doc(key).get())
        if not snapshot.exists:
            return None
        data = snapshot.to_dict() or {}
        item = Item(key=key, value=json.loads(data["value"]), version=int(data["version"]))
        return item, snapshot.update_time

    def _create(self, key: str, value: dict[str, Any], expires_at: float | None = None) -> Item:
        from google.api_core import exceptions

        fields: dict[str, Any] = {"value": encode_value(key, value), "version": 1}
        if expires_at is not None:
            fields[EXPIRES_FIELD] = utc_time(expires_at)
        try:
            self._call(lambda: self._doc(key).create(fields))
        except exceptions.AlreadyExists as error:
            raise ConflictError(key, "key exists") from error
        return Item(key=key, value=value, version=1)

    def _replace(
        self, key: str, value: dict[str, Any], version: int, update_time: Any, expires_at: float | None = None
    ) -> Item:
        from google.api_core import exceptions
        from google.cloud.firestore import DELETE_FIELD

        option = self.client.write_option(last_update_time=update_time)
        fields: dict[str, Any] = {
            "value": encode_value(key, value),
            "version": version,
            EXPIRES_FIELD: DELETE_FIELD if expires_at is None else utc_time(expires_at),
        }
        try:
            self._call(lambda: self._doc(key).update(fields, option=option))
        except (exceptions.FailedPrecondition, exceptions.NotFound) as error:
            raise ConflictError(key, "written or deleted since it was read") from error
        return Item(key=key, value=value, version=version)

    @staticmethod
    def _call(operation: Any) -> Any:
        """Conditions pass through to the caller; transport trouble becomes StateError."""
        from google.api_core import exceptions

        try:
            return operation()
        except (exceptions.AlreadyExists, exceptions.FailedPrecondition, exceptions.NotFound):
            raise
        except exceptions.InvalidArgument as error:  # the request itself is refused: retrying cannot help
            raise StateRejected(f"Firestore refused the write: {error}") from error
        except exceptions.GoogleAPIError as error:
            raise StateError(f"Firestore: {error}") from error


def from_settings(settings: Settings) -> FirestoreStore:
    """AGENTFLEET_STATE is the collection; project from AGENTFLEET_REGION or the environment (ADC)."""
    from google.cloud import firestore

    return FirestoreStore(firestore.Client(project=settings.region or None), settings.state)
