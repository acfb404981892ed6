"""DynamoDB state store (boto3): conditional writes with ConditionExpression.

Table layout (the AWS provider creates it, on demand): partition key `key` (string), no sort key.
Each item holds `value` (the JSON-encoded object), `version` (a number) and, when the write gave
one, `expires_at`: a top-level Number of whole epoch seconds, the attribute the table's TTL is
enabled on, so DynamoDB deletes expired `once:` records by itself ("TTL compares the current time
in epoch time format to the time stored in the TTL attribute of an item", UpdateTimeToLive API;
"Items that have expired and not been deleted will still show up in reads"). Every write is one `UpdateItem`
that sets the value (and the expiry, or removes an old one) and adds 1 to the version, guarded by
a ConditionExpression:

- put-if-absent: `attribute_not_exists(#key)`
- compare-and-set: `#version = :expected`

A failed condition is DynamoDB's `ConditionalCheckFailedException`, reported as ConflictError; a
`ValidationException` (an item over 400 KB, a key over 2,048 bytes) is StateRejected, permanent.
Reads are strongly consistent (`ConsistentRead=True`): `Once` reads right after a failed claim.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from agentfleet.agent.state.base import (
    ConflictError,
    Item,
    StateError,
    StateRejected,
    StateStore,
    check_put_conditions,
    encode_value,
)

if TYPE_CHECKING:
    from agentfleet.agent.settings import Settings

KEY_ATTRIBUTE = "key"
VALUE_ATTRIBUTE = "value"
VERSION_ATTRIBUTE = "version"
#: The table's TTL attribute (providers/aws/state.py TTL_ATTRIBUTE; a test holds them equal).
EXPIRES_ATTRIBUTE = "expires_at"

T = TypeVar("T")


class DynamoDBStore(StateStore):
    """One DynamoDB table through a boto3 DynamoDB client."""

    name = "dynamodb"

    def __init__(self, client: Any, table: str) -> None:
        if not table:
            raise ValueError("AGENTFLEET_STATE is empty: the DynamoDB store needs the table name")
        self.client = client
        self.table = table

    def get(self, key: str) -> Item | None:
        response = self._call(
            key,
            self.client.get_item,
            TableName=self.table,
            Key={KEY_ATTRIBUTE: {"S": key}},
            ConsistentRead=True,
        )
        raw = response.get("Item")
        return None if raw is None else _item(key, raw)

    def put(
        self,
        key: str,
        value: dict[str, Any],
        *,
        if_absent: bool = False,
        if_version: int | None = None,
        expires_at: float | None = None,
    ) -> Item:
        check_put_conditions(if_absent, if_version)
        values: dict[str, Any] = {":value": {"S": encode_value(key, value)}, ":one": {"N": "1"}}
        if expires_at is None:
            update = "SET #value = :value REMOVE #expires ADD #version :one"
        else:  # whole seconds, rounded up: never deleted before the time asked for
            update = "SET #value = :value, #expires = :expires ADD #version :one"
            values[":expires"] = {"N": str(math.ceil(expires_at))}
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Key": {KEY_ATTRIBUTE: {"S": key}},
            "UpdateExpression": update,
            "ExpressionAttributeNames": {
                "#value": VALUE_ATTRIBUTE,
                "#version": VERSION_ATTRIBUTE,
                "#expires": EXPIRES_ATTRIBUTE,
            },
            "ExpressionAttributeValues": values,
            "ReturnValues": "ALL_NEW",
        }
        if if_absent:
            kwargs["ConditionExpression"] = "attribute_not_exists(#key)"
            kwargs["ExpressionAttributeNames"]["#key"] = KEY_ATTRIBUTE
        elif if_version is not None:
            kwargs["ConditionExpression"] = "#version = :expected"
            kwargs["ExpressionAttributeValues"][":expected"] = {"N": str(if_version)}
        detail = "key exists" if if_absent else f"version is not {if_version}"
        response = self._call(key, self.client.update_item, conflict=detail, **kwargs)
        return _item(key, response["Attributes"])

    def delete(self, key: str, *, if_version: int | None = None) -> None:
        kwargs: dict[str, Any] = {"TableName": self.table, "Key": {KEY_ATTRIBUTE: {"S": key}}}
        if if_version is not None:
            kwargs["ConditionExpression"] = "#version = :expected"
            kwargs["ExpressionAttributeNames"] = {"#version": VERSION_ATTRIBUTE}
            kwargs["ExpressionAttributeValues"] = {":expected": {"N": str(if_version)}}
        self._call(key, self.client.delete_item, conflict=f"version is not {if_version}", **kwargs)

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if close is not None:
            close()

    @staticmethod
    def _call(key: str, operation: Callable[..., T], conflict: str = "", **kwargs: Any) -> T:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return operation(**kwargs)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code == "ConditionalCheckFailedException":
                raise ConflictError(key, conflict or "condition failed") from error
            if code == "ValidationException":  # the request itself is refused: retrying cannot help
                raise StateRejected(f"DynamoDB refused the write of {key!r}: {error}") from error
            if code == "ResourceNotFoundException":
                raise StateError(
                    f"DynamoDB table {kwargs.get('TableName')!r} (AGENTFLEET_STATE) does not exist"
                ) from error
            raise StateError(f"DynamoDB {code}: {error}") from error
        except BotoCoreError as error:
            raise StateError(f"DynamoDB unreachable: {error}") from error


def _item(key: str, raw: dict[str, Any]) -> Item:
    return Item(
        key=key,
        value=json.loads(raw[VALUE_ATTRIBUTE]["S"]),
        version=int(raw[VERSION_ATTRIBUTE]["N"]),
    )


def make_client(region: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=10)
    return boto3.client("dynamodb", region_name=region or None, config=config)


def from_settings(settings: Settings) -> DynamoDBStore:
    """AGENTFLEET_STATE is the table name; region from AGENTFLEET_REGION (or boto3's default).
    An endpoint override comes from boto3's AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_DYNAMODB."""
    return DynamoDBStore(make_client(settings.region), settings.state)
