"""Azure Table Storage state store (azure-data-tables): conditional writes with ETag matching.

Entity layout: PartitionKey `agentfleet`, RowKey = the key (escaped: Table keys may not hold
'/', '\\', '#', '?' or control characters), `value` = the JSON-encoded object, `version` = int.
A string property holds at most 64 KiB of UTF-16 and an entity 1 MiB ("Understanding the Table
service data model"), so a value longer than `CHUNK_CHARS` continues in `value_1`, `value_2`, …:
MAX_VALUE_BYTES (400,000 characters of ASCII JSON) takes 13 properties, about 800 KB. A 400 from
the service (a request it refuses as such, like a key over 1 KiB) is StateRejected, permanent.

Conditions map onto the service's own optimistic concurrency:

- put-if-absent: `create_entity` (Insert Entity), which fails with 409 if the row exists.
- compare-and-set: read the row, check `version`, then `update_entity(mode=REPLACE,
  etag=<read etag>, match_condition=IfNotModified)`: the service refuses (412) if anyone wrote
  in between, so the read-check-write is atomic.
- delete with a version: likewise `delete_entity(..., etag=..., match_condition=IfNotModified)`.

Expiry: Azure Table Storage has no TTL. A write with `expires_at` stores it as a DateTime
property, and the store sweeps: an agent's store (`from_settings`) deletes expired entities in the
background every `SWEEP_EVERY_SECONDS` (first after a random part of that, so a fleet's agents do
not sweep together), at most `SWEEP_LIMIT` per sweep, each delete conditional on the ETag the
sweep's query returned, so an entity rewritten in between (a new claim) is kept.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from agentfleet.agent.logging import get_logger
from agentfleet.agent.state.base import ConflictError, Item, StateError, StateRejected, encode_value
from agentfleet.agent.state.optimistic import OptimisticStore, utc_time

if TYPE_CHECKING:
    from azure.data.tables import TableClient, TableEntity

    from agentfleet.agent.settings import Settings

PARTITION = "agentfleet"
VALUE_PROPERTY = "value"
#: Characters of JSON per string property: 64 KiB of UTF-16 is 32,768 characters; the JSON is ASCII.
CHUNK_CHARS = 32_000
#: The DateTime property a write's expiry is kept in, for the sweep.
EXPIRES_PROPERTY = "expires_at"
#: How often an agent's store sweeps expired entities, and how many it deletes at most per sweep.
SWEEP_EVERY_SECONDS = 3600.0
SWEEP_LIMIT = 1000
_FORBIDDEN = set("/\\#?%") | {chr(c) for c in range(0x20)} | {chr(c) for c in range(0x7F, 0xA0)}


def escape_key(key: str) -> str:
    """A RowKey for `key`: forbidden characters (and '%') become %XX, so the mapping is 1:1."""
    return "".join(f"%{ord(ch):02X}" if ch in _FORBIDDEN else ch for ch in key)


class AzureTableStore(OptimisticStore[str]):
    """One Azure Storage table through an azure-data-tables TableClient."""

    service = "Azure Table"
    name = "azuretable"

    def __init__(self, table: TableClient, *, sweep_every: float | None = None) -> None:
        """`sweep_every` seconds: sweep expired entities in the background (None: only when
        `sweep_expired` is called)."""
        self.table = table
        self._closed = threading.Event()
        self._sweeper: threading.Thread | None = None
        if sweep_every is not None:
            self._sweeper = threading.Thread(
                target=self._sweep_forever, args=(sweep_every,), name="agentfleet-state-sweep", daemon=True
            )
            self._sweeper.start()

    def delete(self, key: str, *, if_version: int | None = None) -> None:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        if if_version is None:
            self._call(lambda: self.table.delete_entity(PARTITION, escape_key(key)))
            return
        found = self._get(key)
        if found is None or found[0].version != if_version:
            have = "no such key" if found is None else f"version is {found[0].version}"
            raise ConflictError(key, f"{have}, not {if_version}")
        try:
            self._call(
                lambda: self.table.delete_entity(
                    PARTITION, escape_key(key), etag=found[1], match_condition=MatchConditions.IfNotModified
                )
            )
        except (ResourceModifiedError, ResourceNotFoundError) as error:
            raise ConflictError(key, "written or deleted since it was read") from error

    def close(self) -> None:
        self._closed.set()
        if self._sweeper is not None:
            self._sweeper.join(timeout=10)
        self.table.close()

    # -- expiry -----------------------------------------------------------------------------

    def sweep_expired(self, now: float | None = None, limit: int = SWEEP_LIMIT) -> int:
        """Delete up to `limit` entities whose expiry has passed; returns how many went."""
        deleted = 0
        for entity in self.expired_entities(time.time() if now is None else now):
            if deleted >= limit:
                break
            deleted += self.delete_unchanged(entity)
        return deleted

    def expired_entities(self, now: float) -> Iterator[TableEntity]:
        """The entities whose expiry is before `now` (row key and ETag only)."""
        found: Iterator[TableEntity] = self._call(
            lambda: self.table.query_entities(
                f"PartitionKey eq @partition and {EXPIRES_PROPERTY} lt @now",
                parameters={"partition": PARTITION, "now": utc_time(now)},
                select=["RowKey"],
            )
        )
        return found

    def delete_unchanged(self, entity: TableEntity) -> bool:
        """Delete `entity` if nobody wrote it since it was read; True if it was deleted."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        try:
            self._call(
                lambda: self.table.delete_entity(
                    PARTITION,
                    entity["RowKey"],
                    etag=entity.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        return True

    def _sweep_forever(self, every: float) -> None:
        log = get_logger(component="state.azuretable")
        wait = random.uniform(0, every)
        while not self._closed.wait(wait):
            wait = every
            try:
                deleted = self.sweep_expired()
            except Exception as error:  # the next sweep tries again
                log.warning("sweeping expired state failed", error=f"{type(error).__name__}: {error}")
                continue
            if deleted:
                log.info("expired state swept", deleted=deleted)

    # -- helpers ----------------------------------------------------------------------------

    def _get(self, key: str) -> tuple[Item, str] | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            entity = self._call(lambda: self.table.get_entity(PARTITION, escape_key(key)))
        except ResourceNotFoundError:
            return None
        item = Item(key=key, value=json.loads(_joined_value(entity)), version=int(entity["version"]))
        return item, str(entity.metadata["etag"])

    def _create(self, key: str, value: dict[str, Any], expires_at: float | None = None) -> Item:
        from azure.core.exceptions import ResourceExistsError

        entity = _entity(key, value, 1, expires_at)
        try:
            self._call(lambda: self.table.create_entity(entity))
        except ResourceExistsError as error:
            raise ConflictError(key, "key exists") from error
        return Item(key=key, value=value, version=1)

    def _replace(
        self, key: str, value: dict[str, Any], version: int, etag: str, expires_at: float | None = None
    ) -> Item:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        entity = _entity(key, value, version, expires_at)  # REPLACE: an old expiry not given goes
        try:
            self._call(
                lambda: self.table.update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
                )
            )
        except (ResourceModifiedError, ResourceNotFoundError) as error:
            raise ConflictError(key, "written or deleted since it was read") from error
        return Item(key=key, value=value, version=version)

    @staticmethod
    def _call(operation: Any) -> Any:
        """Run one call; the SDK's own errors for conditions pass through, transport trouble
        becomes StateError (retryable)."""
        from azure.core.exceptions import (
            ResourceExistsError,
            ResourceModifiedError,
            ResourceNotFoundError,
            ServiceRequestError,
            ServiceResponseError,
        )

        try:
            return operation()
        except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
            raise
        except (ServiceRequestError, ServiceResponseError) as error:
            raise StateError(f"Azure Table unreachable: {error}") from error
        except Exception as error:
            from azure.core.exceptions import HttpResponseError

            if isinstance(error, HttpResponseError):
                if error.status_code == 412:
                    raise ResourceModifiedError(message=str(error), response=error.response) from error
                if error.status_code in (400, 413):  # the request itself is refused: retrying cannot help
                    raise StateRejected(
                        f"Azure Table refused the request ({error.status_code}): {error.message}"
                    ) from error
                raise StateError(f"Azure Table error {error.status_code}: {error.message}") from error
            raise


def _entity(key: str, value: dict[str, Any], version: int, expires_at: float | None) -> dict[str, Any]:
    entity: dict[str, Any] = {"PartitionKey": PARTITION, "RowKey": escape_key(key), "version": version}
    encoded = encode_value(key, value)
    for n, start in enumerate(range(0, max(len(encoded), 1), CHUNK_CHARS)):
        entity[_value_part(n)] = encoded[start : start + CHUNK_CHARS]
    if expires_at is not None:
        entity[EXPIRES_PROPERTY] = utc_time(expires_at)
    return entity


def _value_part(n: int) -> str:
    return VALUE_PROPERTY if n == 0 else f"{VALUE_PROPERTY}_{n}"


def _joined_value(entity: Any) -> str:
    parts = []
    n = 0
    while _value_part(n) in entity:
        parts.append(str(entity[_value_part(n)]))
        n += 1
    return "".join(parts)


def split_state_url(url: str) -> tuple[str, str]:
    """https://ACCOUNT.table.core.windows.net/TABLE -> (account endpoint, table name)."""
    endpoint, _, table = url.rstrip("/").rpartition("/")
    if not endpoint.startswith(("https://", "http://")) or not table:
        raise ValueError(
            f"AGENTFLEET_STATE={url!r} must be https://ACCOUNT.table.core.windows.net/TABLE "
            "for the Azure Table store"
        )
    return endpoint, table


def from_settings(settings: Settings) -> AzureTableStore:
    """AGENTFLEET_STATE is the table URL; the agent authenticates with its managed identity
    (DefaultAzureCredential), never an account key."""
    from azure.data.tables import TableClient
    from azure.identity import DefaultAzureCredential

    endpoint, table = split_state_url(settings.state)
    client = TableClient(endpoint=endpoint, table_name=table, credential=DefaultAzureCredential())
    return AzureTableStore(client, sweep_every=SWEEP_EVERY_SECONDS)
