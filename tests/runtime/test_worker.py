"""The worker and its middleware against the real SQLite backend: retries and their backoff,
dead letters with reasons, lease extension for long work, receive failures, async handlers,
concurrency, receive batch sizes, give-backs and idempotent effects. Settings are in
test_settings.py, acks (alone and batched) in test_ack_batching.py."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from agentfleet.agent.backends.base import BackendError, LeaseLost, Message
from agentfleet.agent.backends.sqlite import SqliteBackend
from agentfleet.agent.context import Context
from agentfleet.agent.handler import PermanentError
from agentfleet.agent.middleware.retries import Retries
from tests.runtime.doubles import ScriptedQueue, scripted
from tests.runtime.harness import make_worker, running, sample, settled, wait_until


@pytest.fixture
def queue(tmp_path: Path) -> SqliteBackend:
    return SqliteBackend(tmp_path / "queue.db", visibility_timeout=2, max_receive_count=3)


def test_successful_messages_are_acked_once_each(queue: SqliteBackend) -> None:
    seen: Counter[bytes] = Counter()
    queue.send_many(str(i).encode() for i in range(30))
    with running(make_worker(queue, lambda m, ctx: seen.update([m.body]), concurrency=3)) as run:
        wait_until(lambda: settled(queue), 10, "all messages acked")
    assert seen == Counter({str(i).encode(): 1 for i in range(30)})
    assert sample(run.metrics, "agentfleet_messages_succeeded_total") == 30
    assert sample(run.metrics, "agentfleet_messages_received_total") == 30
    assert run.report[0].clean


def test_failing_message_is_retried_with_backoff_then_dead_lettered_with_reason(
    queue: SqliteBackend,
) -> None:
    attempts: list[tuple[int, float]] = []

    def always_fails(message: Message, ctx: Context) -> None:
        attempts.append((message.delivery_count, time.monotonic()))
        raise ValueError("upstream said no")

    queue.send(b"doomed")
    run = make_worker(queue, always_fails, max_receive_count=3, min_backoff=1, max_backoff=1)
    with running(run):
        wait_until(lambda: queue.stats().dead_lettered == 1, 15, "the dead letter")
    assert [n for n, _ in attempts] == [1, 2, 3]
    gaps = [b - a for (_, a), (_, b) in zip(attempts, attempts[1:], strict=False)]
    assert all(0.9 <= g < 2.0 for g in gaps), f"retries must wait their 1 s backoff, got {gaps}"
    (dead,) = queue.dead_letters()
    assert dead.body == b"doomed"
    assert "failed 3 deliveries" in dead.reason and "ValueError: upstream said no" in dead.reason
    assert sample(run.metrics, "agentfleet_messages_failed_total") == 3
    assert sample(run.metrics, "agentfleet_messages_dead_lettered_total") == 1


@pytest.mark.parametrize("min_backoff,max_backoff", [(1, 300), (2, 30), (5, 5)])
def test_backoff_doubles_per_delivery_within_its_bounds(
    queue: SqliteBackend, min_backoff: float, max_backoff: float
) -> None:
    retries = Retries(queue, 100, min_backoff=min_backoff, max_backoff=max_backoff)
    for n in range(1, 25):
        ceiling = min(max_backoff, min_backoff * 2 ** (n - 1))
        for _ in range(20):
            delay = retries.backoff(n)
            assert min_backoff <= delay <= max_backoff
            assert round(max(min_backoff, ceiling / 2)) <= delay <= round(ceiling)


def test_a_handler_calling_sys_exit_fails_its_message_not_the_agent(queue: SqliteBackend) -> None:
    handled: list[bytes] = []

    def exits_once(message: Message, ctx: Context) -> None:
        if message.body == b"exit" and message.delivery_count == 1:
            sys.exit(3)
        handled.append(message.body)

    queue.send_many([b"exit", b"next"])
    with running(make_worker(queue, exits_once, min_backoff=1, max_backoff=1)) as run:
        wait_until(lambda: settled(queue), 10, "both messages")
    assert sorted(handled) == [b"exit", b"next"], "the handler thread survived and retried"
    assert sample(run.metrics, "agentfleet_messages_failed_total") == 1


def test_permanent_error_dead_letters_at_once_with_its_reason(queue: SqliteBackend) -> None:
    calls = []

    def rejects(message: Message, ctx: Context) -> None:
        calls.append(message.delivery_count)
        raise PermanentError("order 42 has no customer")

    queue.send(b"bad order")
    run = make_worker(queue, rejects, max_receive_count=5)
    with running(run):
        wait_until(lambda: queue.stats().dead_lettered == 1, 10, "the dead letter")
    assert calls == [1], "a permanent failure must not be retried"
    (dead,) = queue.dead_letters()
    assert dead.reason == "PermanentError: order 42 has no customer"
    assert dead.delivery_count == 1


def test_handler_that_cannot_import_its_code_dead_letters_at_once(queue: SqliteBackend) -> None:
    def needs_missing_module(message: Message, ctx: Context) -> None:
        import agentfleet_no_such_module  # type: ignore[import-not-found]  # noqa: F401

    queue.send(b"x")
    with running(make_worker(queue, needs_missing_module, max_receive_count=5)):
        wait_until(lambda: queue.stats().dead_lettered == 1, 10, "the dead letter")
    (dead,) = queue.dead_letters()
    assert dead.delivery_count == 1
    assert "cannot import" in dead.reason and "agentfleet_no_such_module" in dead.reason


def test_lease_extension_keeps_long_work_single_delivered_even_when_renewal_lands_late(
    tmp_path: Path,
) -> None:
    path = tmp_path / "queue.db"
    queue = ScriptedQueue(path, visibility_timeout=2, max_receive_count=5)
    queue.extend_lag = 0.5  # every renewal lands half a second late
    queue.send_many([b"a", b"b"])
    runs: Counter[bytes] = Counter()

    def long_task(message: Message, ctx: Context) -> None:  # 2.5 leases each
        runs.update([message.body])
        time.sleep(5)

    # concurrency 1, prefetch 1: "b" waits 5 s in the buffer before it starts, its lease
    # renewed from the moment it was received; every renewal is 0.5 s late.
    stolen: list[bytes] = []
    competitor = SqliteBackend(path, visibility_timeout=2, max_receive_count=5)
    stop = threading.Event()

    def compete() -> None:
        while not stop.is_set():
            stolen.extend(m.body for m in competitor.receive(10, 0.1))

    thief = threading.Thread(target=compete, daemon=True)
    run = make_worker(queue, long_task, visibility_timeout=2, max_receive_count=5)
    try:
        with running(run):
            received = "agentfleet_messages_received_total"
            wait_until(lambda: sample(run.metrics, received) == 2, 5, "the worker to lease both")
            thief.start()  # from now on, any lapse of a lease hands the message to the thief
            wait_until(lambda: settled(queue), 20, "both long tasks")
    finally:
        stop.set()
        if thief.is_alive():
            thief.join()
    assert stolen == [], "a long task's message was delivered to a second consumer"
    assert runs == Counter({b"a": 1, b"b": 1})
    assert sample(run.metrics, "agentfleet_lease_extensions_total") >= 8


def test_receive_errors_back_off_and_the_worker_recovers(tmp_path: Path) -> None:
    queue = scripted(tmp_path)
    queue.receive_errors = [BackendError("connection refused")] * 2  # the broker is unreachable
    queue.send(b"after the outage")
    done: list[bytes] = []
    with running(make_worker(queue, lambda m, ctx: done.append(m.body))):
        wait_until(lambda: settled(queue), 10, "the message after the outage")
    assert done == [b"after the outage"] and queue.receive_errors == []


def test_ctx_once_keeps_a_redelivered_message_from_applying_its_effect_twice(tmp_path: Path) -> None:
    queue = scripted(tmp_path, visibility_timeout=1)
    # The first ack finds the lease gone (the agent stalled past it): the message comes back.
    queue.ack_errors = [LeaseLost("lease expired while the handler ran")]
    queue.send(b"charge order 7")
    effects: list[int] = []
    deliveries: list[int] = []

    def charge(message: Message, ctx: Context) -> None:
        deliveries.append(message.delivery_count)
        with ctx.once("charge:7") as first:
            if first:
                effects.append(7)

    run = make_worker(queue, charge, state_path=tmp_path / "state.db", visibility_timeout=1)
    with running(run):
        wait_until(lambda: settled(queue) and len(deliveries) == 2, 10, "the redelivery")
    assert deliveries == [1, 2]
    assert effects == [7], "the effect must be applied exactly once"


def test_async_handlers_run_on_one_shared_event_loop(queue: SqliteBackend) -> None:
    loops: set[int] = set()
    done: list[bytes] = []

    async def handle(message: Message, ctx: Context) -> None:
        await asyncio.sleep(0.01)
        loops.add(id(asyncio.get_running_loop()))
        done.append(message.body)

    queue.send_many(str(i).encode() for i in range(20))
    with running(make_worker(queue, handle, concurrency=4)) as run:
        wait_until(lambda: settled(queue), 10, "async handlers")
    assert sorted(done) == sorted(str(i).encode() for i in range(20))
    assert len(loops) == 1
    assert sample(run.metrics, "agentfleet_messages_succeeded_total") == 20


def test_async_handler_failure_is_retried_like_a_sync_one(queue: SqliteBackend) -> None:
    async def handle(message: Message, ctx: Context) -> None:
        if message.delivery_count == 1:
            raise RuntimeError("first try fails")

    queue.send(b"x")
    with running(make_worker(queue, handle, min_backoff=1, max_backoff=1)) as run:
        wait_until(lambda: settled(queue), 10, "the retry")
    assert sample(run.metrics, "agentfleet_messages_failed_total") == 1
    assert sample(run.metrics, "agentfleet_messages_succeeded_total") == 1


@pytest.mark.parametrize("abort", [lambda: sys.exit(3), lambda: (_ for _ in ()).throw(KeyboardInterrupt())])
def test_an_async_handler_that_exits_fails_its_message_and_the_loop_survives(
    queue: SqliteBackend, abort: Any
) -> None:
    handled: list[bytes] = []

    async def handle(message: Message, ctx: Context) -> None:
        await asyncio.sleep(0)
        if message.body == b"exit" and message.delivery_count == 1:
            abort()
        handled.append(message.body)

    queue.send_many([b"exit", b"next"])
    with running(make_worker(queue, handle, min_backoff=1, max_backoff=1)) as run:
        wait_until(lambda: settled(queue), 10, "both messages, on a loop that survived")
    assert sorted(handled) == [b"exit", b"next"]
    assert sample(run.metrics, "agentfleet_messages_failed_total") == 1
    assert run.report[0].clean


def test_concurrency_bounds_handlers_running_at_once(queue: SqliteBackend) -> None:
    lock = threading.Lock()
    now_running = 0
    peak = 0

    def handle(message: Message, ctx: Context) -> None:
        nonlocal now_running, peak
        with lock:
            now_running += 1
            peak = max(peak, now_running)
        time.sleep(0.3)
        with lock:
            now_running -= 1

    queue.send_many(str(i).encode() for i in range(16))
    start = time.monotonic()
    with running(make_worker(queue, handle, concurrency=4)):
        wait_until(lambda: settled(queue), 15, "all messages")
    elapsed = time.monotonic() - start
    assert peak == 4
    assert elapsed < 16 * 0.3 / 2, f"4 at once should beat sequential by far, took {elapsed:.1f}s"


def test_a_fast_handler_receives_full_batches_of_ten(tmp_path: Path) -> None:
    queue = scripted(tmp_path, visibility_timeout=30)
    queue.max_receive_batch = 10  # as SQS
    queue.send_many(str(i).encode() for i in range(200))
    with running(make_worker(queue, lambda m, ctx: None, visibility_timeout=30)):
        wait_until(lambda: settled(queue), 20, "all messages")
    sizes = [got for _, got in queue.receives]
    assert sum(sizes) == 200
    # The first receives, before the handler's speed is known, take what fits; then 10 each
    # (the last one takes what is left).
    assert sizes[2:-1] == [10] * len(sizes[2:-1]), f"receive sizes {sizes}"


def test_slow_handlers_still_top_up_before_the_buffer_runs_dry(tmp_path: Path) -> None:
    queue = scripted(tmp_path, visibility_timeout=30)
    queue.max_receive_batch = 10  # as SQS
    queue.send_many(str(i).encode() for i in range(40))
    buffered_at_receive: list[int] = []
    run = make_worker(queue, lambda m, ctx: time.sleep(0.2), visibility_timeout=30, concurrency=4)
    original = queue.receive

    def receive(max_messages: int, wait_seconds: float) -> list[Message]:
        buffered_at_receive.append(run.worker._buffer.qsize())
        return original(max_messages, wait_seconds)

    queue.receive = receive  # type: ignore[method-assign]
    with running(run):
        wait_until(lambda: settled(queue), 20, "all messages")
    # prefetch = 4 x 0.5 s / 0.2 s = 10: a full batch would only fit with the buffer empty, so
    # the loop keeps topping up half batches while work is still buffered.
    assert max(m for m, _ in queue.receives[3:]) <= 10
    assert sum(1 for b in buffered_at_receive[3:] if b > 0) >= len(buffered_at_receive[3:]) // 2


def test_a_message_given_back_by_a_drain_keeps_its_deliveries(tmp_path: Path) -> None:
    """Where the backend counts deliveries (SQLite), a give-back is not a delivery: a message
    given back once by a drain, with max_receive_count 1, is delivered again, not dead-lettered."""
    queue = SqliteBackend(tmp_path / "queue.db", visibility_timeout=30, max_receive_count=1)
    queue.send_many([b"running", b"buffered"])
    started = threading.Event()

    def handle(message: Message, ctx: Context) -> None:
        started.set()
        wait_until(lambda: run.worker.draining, 20, "the drain")

    run = make_worker(queue, handle, visibility_timeout=30, max_receive_count=1)
    with running(run):
        received = "agentfleet_messages_received_total"
        wait_until(
            lambda: sample(run.metrics, received) == 2 and started.is_set(), 10, "one running, one buffered"
        )
    assert run.report[0].given_back == 1
    (again,) = queue.receive(1, 1)
    assert again.body == b"buffered" and again.delivery_count == 1
    assert queue.dead_letters() == []


def test_a_fast_handlers_agent_never_holds_more_than_prefetch_max_beyond_its_handlers(
    tmp_path: Path,
) -> None:
    """Issue 15: an agent that dies costs every message it holds a delivery. SQLite claims up to
    50 per receive; the agent must still hold at most `concurrency + PREFETCH_MAX`, or a few
    SIGKILLs in a row dead-letter good messages (seen under load: 30 in the crash test)."""
    from agentfleet.agent.worker import PREFETCH_MAX

    queue = SqliteBackend(tmp_path / "queue.db", visibility_timeout=30)
    assert queue.max_receive_batch > PREFETCH_MAX, "the attack needs claims larger than the cap"
    queue.send_many(str(i).encode() for i in range(3000))
    run = make_worker(queue, lambda m, ctx: None, visibility_timeout=30, concurrency=2)
    held: list[int] = []
    original = queue.receive

    def receive(max_messages: int, wait_seconds: float) -> list[Message]:
        got = original(max_messages, wait_seconds)
        held.append(run.worker._buffer.qsize() + run.worker.in_flight + len(got))
        return got

    queue.receive = receive  # type: ignore[method-assign]
    with running(run):
        wait_until(lambda: settled(queue), 60, "all messages")
    assert len(held) > 10
    assert max(held) <= 2 + PREFETCH_MAX, f"held up to {max(held)} messages"
