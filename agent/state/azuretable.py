"""Azure Table Storage state store (azure-data-tables): conditional writes with ETag matching.

Entity layout: PartitionKey `agentfleet`, RowKey = the key (escaped: Table keys may not hold
'/', '\\', '#', '?' or control characters), `value` = the JSON-encoded object, `version` = int.

Conditions map onto the service's own optimistic concurrency:

- put-if-absent: `create_entity` (Insert Entity), which fails with 409 if the row exists.
- compare-and-set: read the row, check `version`, then `update_entity(mode=REPLACE,
  etag=<read etag>, match_condition=IfNotModified)`: the service refuses (412) if anyone wrote
  in between, so the read-check-write is atomic.
- delete with a version: likewise `delete_entity(..., etag=..., match_condition=IfNotModified)`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from agentfleet.agent.state.base import ConflictError, Item, StateError
from agentfleet.agent.state.optimistic import OptimisticStore

if TYPE_CHECKING:
    from azure.data.tables import TableClient

    from agentfleet.agent.settings import Settings

PARTITION = "agentfleet"
_FORBIDDEN = set("/\\#?%") | {chr(c) for c in range(0x20)} | {chr(c) for c in range(0x7F, 0xA0)}


def escape_key(key: str) -> str:
    """A RowKey for `key`: forbidden characters (and '%') become %XX, so the mapping is 1:1."""
    return "".join(f"%{ord(ch):02X}" if ch in _FORBIDDEN else ch for ch in key)


class AzureTableStore(OptimisticStore[str]):
    """One Azure Storage table through an azure-data-tables TableClient."""

    service = "Azure Table"
    name = "azuretable"

    def __init__(self, table: TableClient) -> None:
        self.table = table

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
        self.table.close()

    # -- helpers ----------------------------------------------------------------------------

    def _get(self, key: str) -> tuple[Item, str] | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            entity = self._call(lambda: self.table.get_entity(PARTITION, escape_key(key)))
        except ResourceNotFoundError:
            return None
        item = Item(key=key, value=json.loads(entity["value"]), version=int(entity["version"]))
        return item, str(entity.metadata["etag"])

    def _create(self, key: str, value: dict[str, Any]) -> Item:
        from azure.core.exceptions import ResourceExistsError

        entity = _entity(key, value, 1)
        try:
            self._call(lambda: self.table.create_entity(entity))
        except ResourceExistsError as error:
            raise ConflictError(key, "key exists") from error
        return Item(key=key, value=value, version=1)

    def _replace(self, key: str, value: dict[str, Any], version: int, etag: str) -> Item:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        entity = _entity(key, value, version)
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
                raise StateError(f"Azure Table error {error.status_code}: {error.message}") from error
            raise


def _entity(key: str, value: dict[str, Any], version: int) -> dict[str, Any]:
    row = escape_key(key)
    return {"PartitionKey": PARTITION, "RowKey": row, "value": json.dumps(value), "version": version}


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
    return AzureTableStore(client)
