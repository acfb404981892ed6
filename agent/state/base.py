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
import threading
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
    """`with ctx.once(key) as first:` runs an effect at most once per key across the fleet.

    On enter it claims `key` with put-if-absent (status `pending`, expiring after `claim_seconds`):
    `first` is True when this delivery must apply the effect, False when an earlier delivery
    already did (status `done`). While the effect runs, a background thread renews the claim every
    third of `claim_seconds` (compare-and-set), as the lease keeper renews the message's lease, so
    a live holder keeps its claim however long the effect takes. On a clean exit the claim becomes
    `done` (a transient error on that write is retried); on an exception it is deleted so the
    retry applies the effect.

    If the process dies mid-effect, renewal stops, the claim expires and the next delivery takes
    it over (compare-and-set), so the effect is never lost; an effect that is itself a conditional
    write into `ctx.state` is then applied exactly once. A claim that ends within
    `wait_for_expiry` seconds is waited out; one held longer by a live delivery elsewhere raises
    `InProgressElsewhere`, a retryable error. A later delivery of the same message (`holder`, the
    message id, with a higher `delivery`) takes its own pending claim over at once: that claim was
    left by an earlier delivery whose "done" write failed, and the broker leases a message to one
    consumer at a time. A holder whose claim was taken over (its renewals failed for longer than
    the claim lasts) does not mark it done: its exit raises `ConflictError`, and the retry finds
    the other holder's claim.
    """

    def __init__(
        self,
        store: StateStore,
        key: str,
        claim_seconds: float = 300.0,
        wait_for_expiry: float = 5.0,
        *,
        holder: str = "",
        delivery: int = 0,
        commit_attempts: int = 5,
        commit_pause: float = 0.05,
        renew: bool = True,
    ) -> None:
        self.store = store
        self.key = f"once:{key}"
        self.claim_seconds = claim_seconds
        #: A live claim that ends within this many seconds is waited out instead of raising.
        self.wait_for_expiry = min(wait_for_expiry, claim_seconds / 2)
        #: The message this claim is for, and which delivery of it holds the claim.
        self.holder = holder
        self.delivery = delivery
        self.commit_attempts = commit_attempts
        self.commit_pause = commit_pause
        #: Renew the claim while held (False only models a holder that died, in tests).
        self.renew = renew
        self.owner = _owner()
        self.first = False
        self._claim: Item | None = None
        self._lock = threading.Lock()  # the renewer and commit/abandon both move `_claim`
        self._released = threading.Event()
        self._renewer: threading.Thread | None = None

    def _pending(self) -> dict[str, Any]:
        return {
            "status": "pending",
            "owner": self.owner,
            "holder": self.holder,
            "delivery": self.delivery,
            "expires": time.time() + self.claim_seconds,
        }

    def _own_earlier_claim(self, value: dict[str, Any]) -> bool:
        """A pending claim an earlier delivery of this very message left behind."""
        return (
            bool(self.holder)
            and value.get("holder") == self.holder
            and (int(value.get("delivery", 0)) < self.delivery)
        )

    def acquire(self) -> bool:
        """Claim the key; True if this delivery must apply the effect."""
        for _ in range(5):
            try:
                pending = self._pending()
                self._hold(self.store.put(self.key, pending, if_absent=True, expires_at=pending["expires"]))
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
            if self._own_earlier_claim(current.value):
                left = 0.0
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
            try:  # an expired claim (its owner died mid-effect) or our own earlier one: take it over
                pending = self._pending()
                expires = pending["expires"]
                self._hold(self.store.put(self.key, pending, if_version=current.version, expires_at=expires))
                return True
            except ConflictError:
                continue
        raise InProgressElsewhere(f"{self.key} is contended; retry later")

    def _hold(self, claim: Item) -> None:
        self._claim = claim
        self.first = True
        self._released.clear()
        if not self.renew:
            return
        self._renewer = threading.Thread(target=self._renew, name="agentfleet-once", daemon=True)
        self._renewer.start()

    def _renew(self) -> None:
        """Push the claim's expiry forward every third of its life until released or lost."""
        every = max(0.05, self.claim_seconds / 3)
        wait = every
        while not self._released.wait(wait):
            with self._lock:
                claim = self._claim
                if claim is None:
                    return
                try:
                    pending = self._pending()
                    self._claim = self.store.put(
                        self.key, pending, if_version=claim.version, expires_at=pending["expires"]
                    )
                    wait = every
                except ConflictError:
                    self._claim = None  # taken over: the effect is someone else's now
                    return
                except StateError:
                    wait = min(1.0, every / 4)  # try again soon; the claim still has 2/3 of its life

    def _release(self) -> Item | None:
        """Stop renewing; the claim as last written, or None if it was lost."""
        self._released.set()
        with self._lock:
            claim, self._claim = self._claim, None
        if self._renewer is not None:  # the renewer never releases: this is the holder's thread
            self._renewer.join(timeout=5)
        return claim

    def commit(self) -> None:
        """Mark the effect applied, retrying a transient failure of that write."""
        if not self.first:
            return
        claim = self._release()
        if claim is None:
            raise ConflictError(self.key, "the claim was taken over while the effect ran")
        now = time.time()
        done = {"status": "done", "owner": self.owner, "holder": self.holder, "at": now}
        for attempt in range(self.commit_attempts):
            try:
                self.store.put(self.key, done, if_version=claim.version, expires_at=now + DONE_KEPT_SECONDS)
                return
            except ConflictError:
                current = self.store.get(self.key)  # an earlier try may have landed after all
                if current is not None and current.value.get("owner") == self.owner:
                    if current.value.get("status") == "done":
                        return
                raise
            except StateError:
                if attempt == self.commit_attempts - 1:
                    raise
                time.sleep(self.commit_pause * 2**attempt)

    def abandon(self) -> None:
        """Give the claim back so a retry applies the effect."""
        if not self.first:
            return
        claim = self._release()
        if claim is None:
            return  # someone took over: theirs now
        try:
            self.store.delete(self.key, if_version=claim.version)
        except ConflictError:
            pass  # someone took over an expired claim: theirs now

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abandon()
