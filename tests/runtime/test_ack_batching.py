"""Acks, alone and batched: a connection error on an ack is retried, one that keeps failing
leaves the message to its lease; batched acks (SQLite's one-transaction delete, SQS's
DeleteMessageBatch) share calls, are never reported before the broker confirmed them, are sent
on drain, and a partial batch failure retries only what may pass."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from agentfleet.agent.backends.base import BackendError, LeaseLost
from agentfleet.agent.middleware.lease import LeaseKeeper
from agentfleet.agent.middleware.retries import Retries
from tests.runtime.doubles import scripted
from tests.runtime.harness import make_worker, running, sample, settled, wait_until


def test_ack_that_hits_a_connection_error_is_retried_and_in_flight_returns_to_zero(tmp_path: Path) -> None:
    queue = scripted(tmp_path, visibility_timeout=2)
    queue.ack_errors = [BackendError("connection reset by peer")] * 2  # the broker did nothing
    queue.send(b"work")
    runs = []
    run = make_worker(queue, lambda m, ctx: runs.append(m.delivery_count))
    with running(run):
        wait_until(lambda: settled(queue), 10, "the ack to land")
        time.sleep(2.5)  # a lease's worth: no redelivery
    assert runs == [1]
    assert queue.ack_errors == []
    assert sample(run.metrics, "agentfleet_messages_in_flight") == 0
    assert sample(run.metrics, "agentfleet_messages_succeeded_total") == 1


def test_ack_that_keeps_failing_leaves_the_message_to_its_lease_and_frees_the_slot(tmp_path: Path) -> None:
    queue = scripted(tmp_path, visibility_timeout=1)
    queue.ack_errors = [BackendError("connection reset by peer")] * 6  # every try of delivery 1
    queue.send(b"work")
    runs: list[int] = []
    run = make_worker(queue, lambda m, ctx: runs.append(m.delivery_count), visibility_timeout=1)
    with running(run):
        wait_until(lambda: settled(queue), 15, "the redelivery to be acked")
    assert runs == [1, 2], "an unsettled message comes back after its lease"
    assert sample(run.metrics, "agentfleet_messages_in_flight") == 0
    assert sample(run.metrics, "agentfleet_messages_succeeded_total") == 1, "only the acked delivery"


def retries_layer(run: Any) -> Retries:
    layer = run.worker.middleware[-1]
    assert isinstance(layer, Retries) and layer.acks is not None, "the backend's acks are batched"
    return layer


def test_acks_go_out_in_batches_of_ten(tmp_path: Path) -> None:
    queue = scripted(tmp_path, visibility_timeout=5)
    queue.max_ack_batch = 10  # as SQS's DeleteMessageBatch
    queue.send_many(str(i).encode() for i in range(30))
    with running(make_worker(queue, lambda m, ctx: None, visibility_timeout=5)) as run:
        wait_until(lambda: settled(queue), 10, "all messages acked")
        wait_until(lambda: sample(run.metrics, "agentfleet_messages_succeeded_total") == 30, 5, "the count")
    assert sum(len(b) for b in queue.batches) == 30
    assert len(queue.batches) <= 6, (
        f"acks should share calls, got batch sizes {[len(b) for b in queue.batches]}"
    )
    assert max(len(b) for b in queue.batches) == 10


def test_a_lone_ack_is_sent_by_the_timer_without_waiting_for_a_full_batch(tmp_path: Path) -> None:
    queue = scripted(tmp_path, visibility_timeout=5)
    queue.send(b"alone")
    with running(make_worker(queue, lambda m, ctx: None, visibility_timeout=5)):
        start = time.monotonic()
        wait_until(lambda: settled(queue), 5, "the lone ack")
        assert time.monotonic() - start < 2
    assert queue.batches == [[b"alone"]]


def test_success_is_not_reported_before_the_broker_confirmed_the_ack(tmp_path: Path) -> None:
    queue = scripted(tmp_path, visibility_timeout=2)
    queue.gate.clear()  # the broker sits on the delete
    queue.send(b"work")
    handled = threading.Event()
    run = make_worker(queue, lambda m, ctx: handled.set(), visibility_timeout=2)
    lease = run.worker.middleware[2]
    assert isinstance(lease, LeaseKeeper)
    with running(run):
        assert handled.wait(5)
        time.sleep(2.5)  # longer than the lease: the keeper must still be renewing it
        assert sample(run.metrics, "agentfleet_messages_succeeded_total") == 0
        assert queue.stats().in_flight == 1, "not deleted yet, and still leased to us"
        assert lease.tracked() == 1 and sample(run.metrics, "agentfleet_lease_extensions_total") >= 1
        queue.gate.set()
        wait_until(lambda: sample(run.metrics, "agentfleet_messages_succeeded_total") == 1, 5, "success")
        wait_until(lambda: lease.tracked() == 0, 5, "the lease let go")
    assert settled(queue)


def test_drain_sends_the_acks_still_waiting_for_their_batch(tmp_path: Path) -> None:
    queue = scripted(tmp_path, visibility_timeout=30)
    queue.send_many([b"a", b"b", b"c"])
    handled: list[bytes] = []
    run = make_worker(queue, lambda m, ctx: handled.append(m.body), visibility_timeout=30)
    retries_layer(run).acks.max_delay = 300.0  # type: ignore[union-attr]  # only the drain sends them
    with running(run):
        wait_until(lambda: len(handled) == 3 and run.worker.in_flight == 0, 5, "the three handlers")
        assert queue.batches == [] and queue.stats().in_flight == 3, "acks held back, messages still leased"
    (report,) = run.report
    assert report.clean
    assert sorted(sum(queue.batches, [])) == [b"a", b"b", b"c"]
    assert settled(queue), "drain flushed the pending acks before the worker returned"
    assert sample(run.metrics, "agentfleet_messages_succeeded_total") == 3


def test_partial_batch_failure_retries_transient_entries_and_leaves_lost_leases_to_redeliver(
    tmp_path: Path,
) -> None:
    queue = scripted(tmp_path, visibility_timeout=1)
    queue.entry_errors = {
        b"blip": [BackendError("InternalError")],  # fails once, then deleted on the retry
        b"lost": [LeaseLost("ReceiptHandleIsInvalid")],  # the broker no longer holds that delivery
    }
    queue.call_errors = [BackendError("connection reset by peer")]  # the first whole call fails
    queue.send_many([b"ok-1", b"blip", b"lost", b"ok-2"])
    deliveries: Counter[bytes] = Counter()
    run = make_worker(queue, lambda m, ctx: deliveries.update([m.body]), visibility_timeout=1)
    with running(run):
        wait_until(lambda: settled(queue) and deliveries[b"lost"] == 2, 15, "the lost one's redelivery")
        time.sleep(1.5)  # a lease's worth: nothing else comes back
    assert deliveries == Counter({b"ok-1": 1, b"blip": 1, b"lost": 2, b"ok-2": 1})
    assert sample(run.metrics, "agentfleet_messages_succeeded_total") == 4, (
        "the lost delivery is not a success"
    )
    assert sample(run.metrics, "agentfleet_messages_in_flight") == 0


def test_an_ack_that_keeps_failing_is_given_up_and_the_message_comes_back(tmp_path: Path) -> None:
    queue = scripted(tmp_path, visibility_timeout=1)
    queue.entry_errors = {b"work": [BackendError("InternalError")] * 6}  # every try of delivery 1
    queue.send(b"work")
    runs: list[int] = []
    run = make_worker(queue, lambda m, ctx: runs.append(m.delivery_count), visibility_timeout=1)
    with running(run):
        wait_until(lambda: settled(queue) and len(runs) == 2, 15, "the redelivery to be acked")
    assert runs == [1, 2]
    assert sample(run.metrics, "agentfleet_messages_succeeded_total") == 1, "only the acked delivery"
    assert sample(run.metrics, "agentfleet_messages_in_flight") == 0
    assert run.report[0].clean
