"""A fake Firestore client at the google-cloud-firestore SDK boundary (no emulator runs here).

Mirrors the documented behaviour of the calls the store makes:
- `Client.collection(name).document(id)` builds a DocumentReference without a request; ids may
  not contain '/' or be '.', '..' or match `__.*__` (ValueError / InvalidArgument on use).
- `DocumentReference.get()` returns a snapshot with `exists`, `to_dict()` (None when missing) and
  `update_time` (a new, later timestamp after every write).
- `create(data)` fails with `AlreadyExists` (409 Conflict) when the document exists.
- `update(data, option=)` fails with `NotFound` when the document does not exist; with
  `option=client.write_option(last_update_time=t)` it fails with `FailedPrecondition` unless the
  stored update_time is exactly `t`. Top-level fields in `data` replace those fields;
  `firestore.DELETE_FIELD` as a value removes the field.
- `delete(option=)` removes the document (no error when missing); with a last_update_time option
  it fails with `FailedPrecondition` when the time does not match (or the document is gone).
- `Client.write_option(last_update_time=...)` returns the precondition option.
- A document over 1 MiB (1,048,576 bytes, sized as the "Storage size calculations" page does: each
  field's name + 1, a string's UTF-8 bytes + 1, 8 per number or timestamp, 32 per document) is
  refused with `InvalidArgument`.
All writes are serialized, as Firestore serializes writes to one document.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import threading
from dataclasses import dataclass
from typing import Any

_RESERVED = re.compile(r"^__.*__$")
MAX_DOCUMENT_BYTES = 1_048_576


def _check_size(fields: dict[str, Any]) -> None:
    from google.api_core.exceptions import InvalidArgument

    size = 32 + sum(
        len(name.encode()) + 1 + (len(value.encode()) + 1 if isinstance(value, str) else 8)
        for name, value in fields.items()
    )
    if size > MAX_DOCUMENT_BYTES:
        raise InvalidArgument(f"Document exceeds the maximum allowed size of 1,048,576 bytes ({size:,})")


@dataclass(frozen=True)
class LastUpdateOption:
    last_update_time: dt.datetime


@dataclass
class FakeSnapshot:
    exists: bool
    _data: dict[str, Any] | None
    update_time: dt.datetime | None

    def to_dict(self) -> dict[str, Any] | None:
        return dict(self._data) if self._data is not None else None


class FakeFirestore:
    def __init__(self) -> None:
        self.docs: dict[tuple[str, str], tuple[dict[str, Any], dt.datetime]] = {}
        self.lock = threading.Lock()
        self._ticks = itertools.count(1)
        self._epoch = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def next_time(self) -> dt.datetime:
        return self._epoch + dt.timedelta(microseconds=next(self._ticks))

    def collection(self, name: str) -> FakeCollection:
        return FakeCollection(self, name)

    @staticmethod
    def write_option(**kwargs: Any) -> LastUpdateOption:
        if set(kwargs) != {"last_update_time"}:
            raise TypeError("only last_update_time is used by the store")
        return LastUpdateOption(kwargs["last_update_time"])

    def close(self) -> None:
        return None


@dataclass
class FakeCollection:
    db: FakeFirestore
    name: str

    def document(self, document_id: str) -> FakeDocumentReference:
        if "/" in document_id:
            raise ValueError(f"A document id must not contain '/': {document_id!r}")
        return FakeDocumentReference(self.db, self.name, document_id)


@dataclass
class FakeDocumentReference:
    db: FakeFirestore
    collection: str
    id: str

    def _check_id(self) -> None:
        from google.api_core.exceptions import InvalidArgument

        if self.id in ("", ".", "..") or _RESERVED.match(self.id):
            raise InvalidArgument(f"Document id {self.id!r} is invalid")

    @property
    def _key(self) -> tuple[str, str]:
        return (self.collection, self.id)

    def get(self) -> FakeSnapshot:
        self._check_id()
        with self.db.lock:
            found = self.db.docs.get(self._key)
        if found is None:
            return FakeSnapshot(False, None, None)
        return FakeSnapshot(True, dict(found[0]), found[1])

    def create(self, document_data: dict[str, Any]) -> None:
        from google.api_core.exceptions import AlreadyExists

        self._check_id()
        with self.db.lock:
            if self._key in self.db.docs:
                raise AlreadyExists(f"Document already exists: {self.collection}/{self.id}")
            _check_size(document_data)
            self.db.docs[self._key] = (dict(document_data), self.db.next_time())

    def _precondition(self, option: LastUpdateOption | None) -> None:
        from google.api_core.exceptions import FailedPrecondition

        if option is None:
            return
        found = self.db.docs.get(self._key)
        if found is None or found[1] != option.last_update_time:
            raise FailedPrecondition("the stored version does not match the required base version")

    def update(self, field_updates: dict[str, Any], option: LastUpdateOption | None = None) -> None:
        from google.api_core.exceptions import NotFound
        from google.cloud.firestore import DELETE_FIELD

        self._check_id()
        with self.db.lock:
            if self._key not in self.db.docs:
                raise NotFound(f"No document to update: {self.collection}/{self.id}")
            self._precondition(option)
            fields = dict(self.db.docs[self._key][0])
            for name, value in field_updates.items():
                if value is DELETE_FIELD:
                    fields.pop(name, None)
                else:
                    fields[name] = value
            _check_size(fields)
            self.db.docs[self._key] = (fields, self.db.next_time())

    def delete(self, option: LastUpdateOption | None = None) -> None:
        self._check_id()
        with self.db.lock:
            self._precondition(option)
            self.db.docs.pop(self._key, None)
