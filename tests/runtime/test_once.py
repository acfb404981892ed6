"""`ctx.once` under the worker: a claim is renewed while its holder runs, a transient error on the
"done" write neither dead-letters the message nor stops the code after the once-block, and a
later delivery of the same message takes over its own pending claim (issue 15, findings 2, 3)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from agentfleet.agent.backends.base import Message
from agentfleet.agent.backends.sqlite import SqliteBackend
from agentfleet.agent.context import Context
from agentfleet.agent.state.base import Item, Once, StateError
from agentfleet.agent.state.sqlite import SqliteStateStore
from tests.runtime.harness import make_worker, running, settled, wait_until


def test_a_claim_is_renewed_while_its_effect_runs_longer_than_the_lease(tmp_path: Path) -> None:
    """Two messages with one key (a producer's retry), an effect three leases long: the second
    message must not take over the first one's claim while the first is still applying it."""
    queue = SqliteBackend(tmp_path / "queue.db", visibility_timeout=1, max_receive_count=20)
    queue.send_many([b"order-7", b"order-7 (producer retry)"])
    effects: list[bytes] = []
    lock = threading.Lock()

    def charge(message: Message, ctx: Context) -> None:
        with ctx.once("charge:7") as first:
            if first:
                with lock:
                    effects.append(message.body)
                time.sleep(3)

    run = make_worker(
        queue,
        charge,
        state_path=tmp_path / "state.db",
        visibility_timeout=1,
        max_receive_count=20,
        concurrency=2,
        min_backoff=1,
        max_backoff=1,
    )
    with running(run):
        wait_until(lambda: settled(queue), 30, "both messages")
    assert len(effects) == 1, f"the effect must be applied once, got {effects}"
    assert queue.dead_letters() == []


class FailsDoneWrites(SqliteStateStore):
    """The "done" mark of a ctx.once claim hits a transient error `failures` times."""

    def __init__(self, path: Path, failures: int) -> None:
        super().__init__(path)
        self.failures = failures

    def put(self, key: str, value: dict[str, Any], **conditions: Any) -> Item:
        if value.get("status") == "done" and self.failures > 0:
            self.failures -= 1
            raise StateError("connection reset by peer")
        return super().put(key, value, **conditions)


def _once_then_after(effects: list[int], after: list[int]) -> Any:
    def handle(message: Message, ctx: Context) -> None:
        with ctx.once("send-invoice:9") as first:
            if first:
                effects.append(message.delivery_count)
        after.append(message.delivery_count)  # the code after the once-block

    return handle


def test_one_transient_error_on_the_done_write_is_retried(tmp_path: Path) -> None:
    queue = SqliteBackend(tmp_path / "queue.db", visibility_timeout=30, max_receive_count=3)
    queue.send(b"invoice 9")
    store = FailsDoneWrites(tmp_path / "state.db", failures=1)
    effects: list[int] = []
    after: list[int] = []
    run = make_worker(queue, _once_then_after(effects, after), state=store, visibility_timeout=30)
    with running(run):
        wait_until(lambda: settled(queue), 15, "the message")
    assert store.failures == 0
    assert effects == [1] and after == [1]
    assert queue.dead_letters() == []


def test_a_later_delivery_takes_over_its_own_pending_claim(tmp_path: Path) -> None:
    """The done write fails on every try of delivery 1: the claim stays pending. Delivery 2 of the
    same message must not wait for that claim to expire (a 30 s lease here) or be dead-lettered
    with InProgressElsewhere: it takes its own claim over and the code after the block runs."""
    queue = SqliteBackend(tmp_path / "queue.db", visibility_timeout=30, max_receive_count=3)
    queue.send(b"invoice 9")
    store = FailsDoneWrites(tmp_path / "state.db", failures=1000)
    effects: list[int] = []
    after: list[int] = []
    handler = _once_then_after(effects, after)

    def handle(message: Message, ctx: Context) -> None:
        if message.delivery_count > 1:
            store.failures = 0  # the state store is back
        handler(message, ctx)

    run = make_worker(
        queue, handle, state=store, visibility_timeout=30, max_receive_count=3, min_backoff=1, max_backoff=1
    )
    with running(run):
        wait_until(lambda: settled(queue), 20, "the message")
    assert queue.dead_letters() == []
    assert after == [2], "the code after the once-block ran on the delivery that marked it done"
    item = store.get("once:send-invoice:9")
    assert item is not None and item.value["status"] == "done"


def test_waiting_for_another_holder_of_the_key_does_not_use_up_deliveries(tmp_path: Path) -> None:
    """A message whose ctx.once key another delivery holds for a long time (a producer's duplicate
    whose effect is slow) is given back, not counted: it is not dead-lettered however long the
    holder takes (found by the non-idempotent crash test)."""
    queue = SqliteBackend(tmp_path / "queue.db", visibility_timeout=30, max_receive_count=2)
    store = SqliteStateStore(tmp_path / "state.db")
    holder = Once(store, "charge:8", claim_seconds=60)
    assert holder.acquire()  # a live delivery elsewhere, applying the effect
    queue.send(b"charge 8 (duplicate)")
    tries: list[int] = []

    def charge(message: Message, ctx: Context) -> None:
        tries.append(message.delivery_count)
        with ctx.once("charge:8") as first:
            assert not first, "the holder applied it"

    run = make_worker(
        queue, charge, state=store, visibility_timeout=30, max_receive_count=2, min_backoff=1, max_backoff=1
    )
    with running(run):
        wait_until(lambda: len(tries) >= 4, 20, "several tries while the key is held")
        holder.commit()
        wait_until(lambda: settled(queue), 20, "the duplicate to finish")
    assert queue.dead_letters() == []
    assert set(tries) == {1}, "waiting is not a delivery on SQLite"
