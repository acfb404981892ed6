"""The ONE contract every queue backend and every state store passes.

Subclass `BackendContract` (implement `make_backend`) or `StateStoreContract` (implement
`make_store`) in a `test_*.py` module; pytest then runs every behaviour below against that
backend. Timings are small (1–2 s leases) so the whole suite runs in seconds; `lease_slack` is how
much later than its lease end a broker may redeliver (moto and emulators poll lazily).

Capability flags describe documented broker behaviour, not shortcuts:
- `detects_stale_receipt`: settling with a receipt from an earlier delivery raises LeaseLost.
  SQS cannot tell (a DeleteMessage with an old receipt handle "succeeds"), so its subclass says False.
- `reports_dead_letter_count`: stats().dead_lettered is a number, not None.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from agentfleet.agent.backends.base import LeaseLost, Message, QueueBackend
from agentfleet.agent.handler import PermanentError
from agentfleet.agent.state.base import (
    MAX_VALUE_BYTES,
    ConflictError,
    InProgressElsewhere,
    Once,
    StateError,
    StateStore,
    ValueTooLarge,
)


def receive_one(backend: QueueBackend, wait: float) -> Message | None:
    """The first message that arrives within `wait` seconds (polling in short long-polls)."""
    deadline = time.monotonic() + wait
    while True:
        left = deadline - time.monotonic()
        got = backend.receive(1, max(0.0, min(1.0, left)))
        if got:
            return got[0]
        if left <= 0:
            return None


class BackendContract:
    """Delivery, ack, lease expiry and extension, release, dead letters, delivery counts, stats."""

    visibility_timeout = 1
    max_receive_count = 3
    lease_slack = 2.0
    detects_stale_receipt = True
    reports_dead_letter_count = True

    def make_backend(self, visibility_timeout: int, max_receive_count: int) -> QueueBackend:
        """A fresh, empty queue (and its dead-letter queue) with these settings."""
        raise NotImplementedError

    @pytest.fixture
    def backend(self) -> Iterator[QueueBackend]:
        backend = self.make_backend(self.visibility_timeout, self.max_receive_count)
        try:
            yield backend
        finally:
            backend.close()

    # -- delivery and ack ---------------------------------------------------------------------

    def test_send_then_receive_delivers_body_and_attributes_once(self, backend: QueueBackend) -> None:
        sent_id = backend.send(b'{"n": 1}', {"kind": "test"})
        message = receive_one(backend, 5)
        assert message is not None
        assert message.body == b'{"n": 1}'
        assert message.attributes.get("kind") == "test"
        assert message.delivery_count == 1
        assert sent_id and message.id
        assert backend.receive(10, 0.2) == [], "a leased message must be invisible to other receivers"

    def test_receive_returns_up_to_max_messages(self, backend: QueueBackend) -> None:
        for i in range(5):
            backend.send(str(i).encode())
        got: list[Message] = []
        deadline = time.monotonic() + 5
        while len(got) < 5 and time.monotonic() < deadline:
            batch = backend.receive(3, 0.5)
            assert len(batch) <= 3
            got.extend(batch)
        assert sorted(m.body for m in got) == [b"0", b"1", b"2", b"3", b"4"]

    def test_empty_receive_waits_at_most_wait_seconds(self, backend: QueueBackend) -> None:
        start = time.monotonic()
        assert backend.receive(10, 1.0) == []
        assert time.monotonic() - start < 1.0 + self.lease_slack

    def test_acked_message_is_never_delivered_again(self, backend: QueueBackend) -> None:
        backend.send(b"done")
        message = receive_one(backend, 5)
        assert message is not None
        backend.ack(message)
        assert receive_one(backend, self.visibility_timeout + self.lease_slack) is None

    # -- leases ---------------------------------------------------------------------------------

    def test_unacked_message_is_redelivered_after_its_lease_with_a_higher_count(
        self, backend: QueueBackend
    ) -> None:
        backend.send(b"again")
        first = receive_one(backend, 5)
        assert first is not None and first.delivery_count == 1
        second = receive_one(backend, self.visibility_timeout + self.lease_slack + 1)
        assert second is not None, "an unsettled message must come back when its lease ends"
        assert second.id == first.id
        assert second.body == b"again"
        assert second.delivery_count == 2

    def test_extend_lease_prevents_redelivery(self, backend: QueueBackend) -> None:
        backend.send(b"long task")
        message = receive_one(backend, 5)
        assert message is not None
        held_until = time.monotonic() + 3 * self.visibility_timeout
        while time.monotonic() < held_until:
            backend.extend_lease(message, self.visibility_timeout + 1)
            assert backend.receive(1, self.visibility_timeout / 2) == [], "redelivered while extended"
        backend.ack(message)
        assert receive_one(backend, self.visibility_timeout + self.lease_slack) is None

    def test_settling_a_stale_delivery_raises_lease_lost(self, backend: QueueBackend) -> None:
        if not self.detects_stale_receipt:
            pytest.skip("this broker cannot tell a stale receipt from a current one (documented)")
        backend.send(b"stale")
        first = receive_one(backend, 5)
        assert first is not None
        second = receive_one(backend, self.visibility_timeout + self.lease_slack + 1)
        assert second is not None
        with pytest.raises(LeaseLost):
            backend.ack(first)
        with pytest.raises(LeaseLost):
            backend.extend_lease(first, 10)
        backend.ack(second)

    # -- release (retries, drain) ---------------------------------------------------------------

    def test_release_now_gives_the_message_back_at_once(self, backend: QueueBackend) -> None:
        backend.send(b"unstarted")
        message = receive_one(backend, 5)
        assert message is not None
        backend.release(message, 0)
        again = receive_one(backend, min(1.0, self.visibility_timeout / 2) + 0.5)
        assert again is not None, "a released message must be visible before its lease would have ended"
        assert again.id == message.id

    def test_release_with_delay_keeps_it_hidden_for_the_delay(self, backend: QueueBackend) -> None:
        backend.send(b"backoff")
        message = receive_one(backend, 5)
        assert message is not None
        delay = self.visibility_timeout + 1
        released_at = time.monotonic()
        backend.release(message, delay)
        assert backend.receive(1, delay - 0.6) == [], "visible before its retry delay"
        again = receive_one(backend, delay + self.lease_slack)
        assert again is not None and again.id == message.id
        assert time.monotonic() - released_at >= delay - 0.5

    def test_delivery_count_grows_by_one_per_delivery(self, backend: QueueBackend) -> None:
        backend.send(b"count")
        counts = []
        for _ in range(self.max_receive_count):
            message = receive_one(backend, self.visibility_timeout + self.lease_slack + 1)
            assert message is not None
            counts.append(message.delivery_count)
            backend.release(message, 0)
        assert counts == list(range(1, self.max_receive_count + 1))

    # -- dead letters ---------------------------------------------------------------------------

    def test_dead_letter_after_max_receive_count_deliveries(self, backend: QueueBackend) -> None:
        backend.send(b"poison")
        for n in range(1, self.max_receive_count + 1):
            message = receive_one(backend, self.visibility_timeout + self.lease_slack + 1)
            assert message is not None, f"delivery {n} of {self.max_receive_count} missing"
            backend.release(message, 0)
        assert receive_one(backend, 1.5) is None, "delivered more than max_receive_count times"
        if self.reports_dead_letter_count:
            assert backend.stats().dead_lettered == 1

    def test_dead_letter_moves_the_message_now(self, backend: QueueBackend) -> None:
        backend.send(b"permanent failure")
        message = receive_one(backend, 5)
        assert message is not None
        backend.dead_letter(message, "PermanentError: bad input")
        assert receive_one(backend, self.visibility_timeout + self.lease_slack) is None
        if self.reports_dead_letter_count:
            assert backend.stats().dead_lettered == 1

    # -- stats ----------------------------------------------------------------------------------

    def test_stats_count_waiting_and_in_flight(self, backend: QueueBackend) -> None:
        for i in range(3):
            backend.send(str(i).encode())
        leased = receive_one(backend, 5)
        assert leased is not None
        deadline = time.monotonic() + 5
        while True:  # some brokers report counts eventually
            stats = backend.stats()
            if (stats.waiting, stats.in_flight) == (2, 1) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert (stats.waiting, stats.in_flight) == (2, 1)
        if self.reports_dead_letter_count:
            assert stats.dead_lettered == 0

    def test_ping_succeeds_on_a_reachable_broker(self, backend: QueueBackend) -> None:
        backend.ping()


class StateStoreContract:
    """Conditional writes and the idempotency helper, the same on every state store."""

    def make_store(self) -> StateStore:
        """A store (it may be shared between tests: every test uses fresh keys)."""
        raise NotImplementedError

    @pytest.fixture
    def store(self) -> Iterator[StateStore]:
        store = self.make_store()
        try:
            yield store
        finally:
            store.close()

    @pytest.fixture
    def key(self) -> str:
        return f"k-{uuid.uuid4().hex[:12]}"

    def test_missing_key_reads_as_none(self, store: StateStore, key: str) -> None:
        assert store.get(key) is None

    def test_put_then_get_round_trips_json_and_versions_from_one(self, store: StateStore, key: str) -> None:
        value: dict[str, Any] = {"n": 1, "s": "x", "nested": {"list": [1, 2]}, "f": 1.5, "b": True}
        written = store.put(key, value)
        assert written.version == 1
        item = store.get(key)
        assert item is not None and item.value == value and item.version == 1
        assert store.put(key, {"n": 2}).version == 2

    def test_put_if_absent_conflicts_when_the_key_exists(self, store: StateStore, key: str) -> None:
        store.put(key, {"owner": "a"}, if_absent=True)
        with pytest.raises(ConflictError):
            store.put(key, {"owner": "b"}, if_absent=True)
        item = store.get(key)
        assert item is not None and item.value == {"owner": "a"}

    def test_compare_version_write_wins_once(self, store: StateStore, key: str) -> None:
        v1 = store.put(key, {"n": 1})
        v2 = store.put(key, {"n": 2}, if_version=v1.version)
        assert v2.version == v1.version + 1
        with pytest.raises(ConflictError):
            store.put(key, {"n": 3}, if_version=v1.version)
        item = store.get(key)
        assert item is not None and item.value == {"n": 2}

    def test_compare_version_on_a_missing_key_conflicts(self, store: StateStore, key: str) -> None:
        with pytest.raises(ConflictError):
            store.put(key, {"n": 1}, if_version=1)

    def test_delete_and_conditional_delete(self, store: StateStore, key: str) -> None:
        item = store.put(key, {"n": 1})
        with pytest.raises(ConflictError):
            store.delete(key, if_version=item.version + 1)
        store.delete(key, if_version=item.version)
        assert store.get(key) is None
        store.delete(key)  # absent: no error

    def test_a_large_value_round_trips(self, store: StateStore, key: str) -> None:
        """Well past Azure Table's 64 KiB per string property. (moto counts an attribute's old and
        new value together against DynamoDB's 400 KB while replacing it, so the two stay under that.)"""
        large = {"text": "x" * (100 * 1024), "unicode": "\u00e9\u4e2d" * 1000, "n": 1}
        first = store.put(key, large)
        item = store.get(key)
        assert item is not None and item.value == large and item.version == first.version
        larger = {**large, "n": 2, "more": "y" * 50_000}
        store.put(key, larger, if_version=first.version)
        item = store.get(key)
        assert item is not None and item.value == larger
        store.put(key, {"small": True})  # the large value's extra parts do not linger
        item = store.get(key)
        assert item is not None and item.value == {"small": True}

    def test_a_value_over_the_limit_is_refused_as_permanent(self, store: StateStore, key: str) -> None:
        too_large = {"text": "x" * MAX_VALUE_BYTES}
        with pytest.raises(ValueTooLarge, match=key) as refused:
            store.put(key, too_large)
        assert isinstance(refused.value, PermanentError) and not isinstance(refused.value, StateError)
        assert store.get(key) is None

    def test_concurrent_claims_have_exactly_one_winner(self, store: StateStore, key: str) -> None:
        wins: list[int] = []
        barrier = threading.Barrier(8)

        def claim(i: int) -> None:
            barrier.wait()
            try:
                store.put(key, {"owner": i}, if_absent=True)
                wins.append(i)
            except ConflictError:
                pass

        threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == 1

    def test_once_applies_an_effect_once_across_redeliveries(self, store: StateStore, key: str) -> None:
        effects = []
        for _ in range(3):
            with Once(store, key) as first:
                if first:
                    effects.append(1)
        assert effects == [1]

    def test_once_gives_the_claim_back_when_the_effect_fails(self, store: StateStore, key: str) -> None:
        with pytest.raises(RuntimeError), Once(store, key) as first:
            assert first
            raise RuntimeError("effect failed")
        with Once(store, key) as again:
            assert again, "a failed effect must be applied by the retry"

    def test_once_takes_over_an_expired_claim_of_a_dead_agent(self, store: StateStore, key: str) -> None:
        dead = Once(store, key, claim_seconds=0.5, renew=False)  # a dead agent renews nothing
        assert dead.acquire()  # ... and the agent dies before commit()
        with pytest.raises(InProgressElsewhere):
            Once(store, key, wait_for_expiry=0).acquire()
        time.sleep(0.7)
        with Once(store, key) as first:
            assert first, "an expired claim must be taken over"
        with Once(store, key) as later:
            assert not later

    def test_once_waits_out_a_claim_about_to_expire(self, store: StateStore, key: str) -> None:
        dead = Once(store, key, claim_seconds=1.0, renew=False)
        assert dead.acquire()  # a dead agent's claim, 1 s left
        start = time.monotonic()
        with Once(store, key, wait_for_expiry=5) as first:
            assert first, "the redelivery takes the claim over once it expires"
        assert 0.5 <= time.monotonic() - start < 5

    def test_once_leaves_a_long_live_claim_to_its_owner(self, store: StateStore, key: str) -> None:
        owner = Once(store, key, claim_seconds=60)
        assert owner.acquire()
        with pytest.raises(InProgressElsewhere):
            Once(store, key, wait_for_expiry=5).acquire()
        owner.commit()
        with Once(store, key) as first:
            assert not first

    def test_once_renews_its_claim_while_the_effect_runs(self, store: StateStore, key: str) -> None:
        owner = Once(store, key, claim_seconds=0.6)
        assert owner.acquire()
        time.sleep(1.5)  # 2.5 claims long: renewal keeps it
        with pytest.raises(InProgressElsewhere):
            Once(store, key, wait_for_expiry=0).acquire()
        owner.commit()
        item = store.get(f"once:{key}")
        assert item is not None and item.value["status"] == "done"
