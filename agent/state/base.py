"""The small key-value state interface behind `ctx.state` (DynamoDB, Azure Table, Firestore, SQLite).

Delivery is at-least-once; effects are made exactly-once with conditional writes. Every store
offers the same three verbs, each with the two conditions the idempotency pattern needs:

- `put(key, value, if_absent=True)`: create only if the key does not exist (a claim).
- `put(key, value, if_version=n)`: replace only if nobody wrote since we read version `n`
  (compare-and-set). A failed condition raises `ConflictError`, never silently overwrites.
- `delete(key, if_version=n)`: likewise.

Values are JSON objects (dict[str, Any]); every successful write bumps the item's `version`.
A write may carry `expires_at` (epoch seconds): after it the store may delete the item by itself
(DynamoDB TTL, a Firestore TTL policy, the Azure Table store's own sweep; the SQLite store keeps
it, its file goes with the local fleet). Expiry is housekeeping, not meaning: until the item is
gone, reads still return it, so whoever needs an exact deadline keeps it in the value (as `Once`
does). A write without `expires_at` leaves the item without one.
`Once` (below) is the idempotency helper behind `ctx.once(key)`, written only with these verbs,
so it behaves the same on every store.
"""

from __future__ import annotations

import abc
import json
import os
import socket
import time
import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from agentfleet.agent.errors import PermanentError


class StateError(RuntimeError):
    """A state-store call failed in a way that may pass (connection, throttling): retry it."""


class ConflictError(StateError):
    """A conditional write lost: the key exists (put-if-absent) or its version moved on."""

    def __init__(self, key: str, detail: str) -> None:
        self.key = key
        super().__init__(f"conditional write on {key!r} failed: {detail}")


class StateRejected(PermanentError):
    """The store refused the write itself (a value or key it cannot hold): retrying cannot help,
    so the message is dead-lettered at once with this reason."""


class ValueTooLarge(StateRejected):
    """The value's JSON is over MAX_VALUE_BYTES, the limit every store shares."""

    def __init__(self, key: str, size: int) -> None:
        self.key = key
        self.size = size
        super().__init__(
            f"state value for {key!r} is {size:,} bytes of JSON, over the {MAX_VALUE_BYTES:,} every store "
            "holds; keep large data in ctx.bucket and its key in ctx.state"
        )


#: The largest value (bytes of its JSON) every store accepts: DynamoDB's item limit is 400 KB
#: (409,600 bytes) with the key and the other attributes; Azure Table (1 MiB per entity, split
#: across properties) and Firestore (1 MiB per document) hold more, but a handler must behave the
#: same on every cloud and locally, so every store refuses more than this.
MAX_VALUE_BYTES = 400_000


def encode_value(key: str, value: dict[str, Any]) -> str:
    """`value` as the compact JSON every store keeps; ValueTooLarge past MAX_VALUE_BYTES."""
    encoded = json.dumps(value, separators=(",", ":"))  # ASCII: bytes == characters
    if len(encoded) > MAX_VALUE_BYTES:
        raise ValueTooLarge(key, len(encoded))
    return encoded


@dataclass(frozen=True)
class Item:
    """One stored value and its version (1 after the first write, +1 on every write)."""

    key: str
    value: dict[str, Any]
    version: int


def check_put_conditions(if_absent: bool, if_version: int | None) -> None:
    """`put` takes one condition at most; every store refuses both the same way."""
    if if_absent and if_version is not None:
        raise ValueError("put: choose if_absent or if_version, not both")


class StateStore(abc.ABC):
    """A key-value store with conditional writes."""

    #: Store name: sqlite, dynamodb, azuretable, firestore.
    name: str = ""

    @abc.abstractmethod
    def get(self, key: str) -> Item | None:
        """The item under `key`, or None."""

    @abc.abstractmethod
    def put(
        self,
        key: str,
        value: dict[str, Any],
        *,
        if_absent: bool = False,
        if_version: int | None = None,
        expires_at: float | None = None,
    ) -> Item:
        """Write `value`; with `if_absent` only if `key` is new, with `if_version` only if the
        stored version is exactly that; with `expires_at` the store may delete it after that
        time. Returns the written item. Raises ConflictError."""

    @abc.abstractmethod
    def delete(self, key: str, *, if_version: int | None = None) -> None:
        """Remove `key` (no error if absent, unless `if_version` is given and does not match)."""

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release connections."""


#: How long a `once:` record of an applied effect is kept: longer than any queue keeps a message
#: (SQS 14 days, Pub/Sub 7 days), so a redelivery always finds it. A producer retry of the same
#: key later than this applies the effect again.
DONE_KEPT_SECONDS = 30 * 86_400


class InProgressElsewhere(StateError):
    """Another delivery holds the idempotency claim right now; retry this message later."""


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Once:
    """`with ctx.once(key) as first:` — run an effect at most once per key across the fleet.

    On enter it claims `key` with put-if-absent (status `pending`, expiring after `claim_seconds`):
    `first` is True when this delivery must apply the effect, False when an earlier delivery
    already did (status `done`). On a clean exit the claim becomes `done`; on an exception it is
    deleted so the retry applies the effect. If the process dies mid-effect the claim expires and
    the next delivery takes it over (compare-and-set), so the effect is never lost; an effect that
    is itself a conditional write into `ctx.state` is then applied exactly once. A claim that ends
    within `wait_for_expiry` seconds is waited out; one held longer by a live delivery elsewhere
    raises `InProgressElsewhere`, a retryable error.
    """

    def __init__(
        self, store: StateStore, key: str, claim_seconds: float = 300.0, wait_for_expiry: float = 5.0
    ) -> None:
        self.store = store
        self.key = f"once:{key}"
        self.claim_seconds = claim_seconds
        #: A live claim that ends within this many seconds is waited out instead of raising.
        self.wait_for_expiry = min(wait_for_expiry, claim_seconds / 2)
        self.owner = _owner()
        self.first = False
        self._claim: Item | None = None

    def _pending(self) -> dict[str, Any]:
        return {"status": "pending", "owner": self.owner, "expires": time.time() + self.claim_seconds}

    def acquire(self) -> bool:
        """Claim the key; True if this delivery must apply the effect."""
        for _ in range(5):
            try:
                pending = self._pending()
                self._claim = self.store.put(self.key, pending, if_absent=True, expires_at=pending["expires"])
                self.first = True
                return True
            except ConflictError:
                pass
            current = self.store.get(self.key)
            if current is None:
                continue  # deleted between our put and get: claim again
            if current.value.get("status") == "done":
                self.first = False
                return False
            left = float(current.value.get("expires", 0)) - time.time()
            if left > self.wait_for_expiry:
                raise InProgressElsewhere(f"{self.key} is being applied by {current.value.get('owner')}")
            if left > 0:
                # Almost expired: typically the claim of an agent that died holding this very
                # message, redelivered as its lease ended. Wait it out rather than spend a delivery.
                time.sleep(left + 0.01)
                current = self.store.get(self.key)
                if current is None:
                    continue
                if current.value.get("status") == "done":
                    self.first = False
                    return False
                if float(current.value.get("expires", 0)) > time.time():
                    continue
            try:  # an expired claim: its owner died mid-effect; take it over
                pending = self._pending()
                self._claim = self.store.put(
                    self.key, pending, if_version=current.version, expires_at=pending["expires"]
                )
                self.first = True
                return True
            except ConflictError:
                continue
        raise InProgressElsewhere(f"{self.key} is contended; retry later")

    def commit(self) -> None:
        """Mark the effect applied."""
        if self._claim is None:
            return
        now = time.time()
        done = {"status": "done", "owner": self.owner, "at": now}
        self.store.put(self.key, done, if_version=self._claim.version, expires_at=now + DONE_KEPT_SECONDS)
        self._claim = None

    def abandon(self) -> None:
        """Give the claim back so a retry applies the effect."""
        if self._claim is None:
            return
        try:
            self.store.delete(self.key, if_version=self._claim.version)
        except ConflictError:
            pass  # someone took over an expired claim: theirs now
        self._claim = None

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abandon()
