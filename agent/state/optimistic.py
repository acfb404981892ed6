"""Compare-and-set on stores whose service offers optimistic concurrency (an ETag, an update time).

Azure Tables and Firestore both give conditional writes as "create, fails if it exists" and
"replace, fails if changed since this read". `OptimisticStore` turns those two primitives into
the `StateStore` contract once, so each store only says how to read, create and replace.
"""

from __future__ import annotations

import abc
import datetime as dt
from typing import Any, Generic, TypeVar

from agentfleet.agent.state.base import ConflictError, Item, StateError, StateStore, check_put_conditions

#: What a read hands to the next conditional write: an ETag, an update time.
Token = TypeVar("Token")

#: An unconditional put re-reads and retries this often when other writers keep winning.
RACE_RETRIES = 10


class OptimisticStore(StateStore, Generic[Token]):
    """`get` and `put` from three primitives of the service."""

    #: Named in the error when an unconditional put keeps racing other writers.
    service = ""

    @abc.abstractmethod
    def _get(self, key: str) -> tuple[Item, Token] | None:
        """The item and the token a conditional write needs, or None."""

    @abc.abstractmethod
    def _create(self, key: str, value: dict[str, Any], expires_at: float | None = None) -> Item:
        """Write version 1; raise ConflictError if the key exists."""

    @abc.abstractmethod
    def _replace(
        self, key: str, value: dict[str, Any], version: int, token: Token, expires_at: float | None = None
    ) -> Item:
        """Write `version` only if nothing changed since the read that gave `token`; else ConflictError.
        The whole item is replaced: an expiry the write does not give is removed."""

    def get(self, key: str) -> Item | None:
        found = self._get(key)
        return None if found is None else found[0]

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
        if if_absent:
            return self._create(key, value, expires_at)
        for _ in range(RACE_RETRIES):
            found = self._get(key)
            if found is None:
                if if_version is not None:
                    raise ConflictError(key, f"version is not {if_version} (no such key)")
                try:
                    return self._create(key, value, expires_at)
                except ConflictError:
                    continue  # created meanwhile: write over it with its token
            current, token = found
            if if_version is not None and current.version != if_version:
                raise ConflictError(key, f"version is {current.version}, not {if_version}")
            try:
                return self._replace(key, value, current.version + 1, token, expires_at)
            except ConflictError:
                if if_version is not None:
                    raise
        raise StateError(f"{self.service}: unconditional put on {key!r} kept racing other writers")


def utc_time(epoch_seconds: float) -> dt.datetime:
    """An expiry as a timezone-aware UTC datetime: the SDKs store it as the service's own date type
    (Firestore Timestamp, Azure Table DateTime), which TTL policies and filters compare."""
    return dt.datetime.fromtimestamp(epoch_seconds, dt.UTC)
