"""The worker and its middleware against the real SQLite backend: retries and their backoff,
dead letters with reasons, lease extension for long work, ack failures, async handlers,
concurrency, idempotent effects, and the startup errors a bad environment gets."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from agentfleet.agent import contract
from agentfleet.agent.backends.base import BackendError, LeaseLost, Message
from agentfleet.agent.backends.sqlite import SqliteBackend
from agentfleet.agent.cli import run_agent
from agentfleet.agent.context import Context
from agentfleet.agent.handler import PermanentError
from agentfleet.agent.middleware.lease import LeaseKeeper
from agentfleet.agent.middleware.retries import Retries
from agentfleet.agent.settings import Settings, SettingsError
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


class SlowLeases(SqliteBackend):
    """A broker whose lease renewals are slow: each extension lands `lag` seconds late."""

    lag = 0.5

    def extend_lease(self, message: Message, seconds: int) -> None:
        time.sleep(self.lag)
        super().extend_lease(message, seconds)


def test_lease_extension_keeps_long_work_single_delivered_even_when_renewal_lands_late(
    tmp_path: Path,
) -> None:
    path = tmp_path / "queue.db"
    queue = SlowLeases(path, visibility_timeout=2, max_receive_count=5)
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


class FlakyAcks(SqliteBackend):
    """The first `failures` acks hit a connection error (after the broker did nothing)."""

    failures = 2

    def ack(self, message: Message) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise BackendError("connection reset by peer")
        super().ack(message)


def test_ack_that_hits_a_connection_error_is_retried_and_in_flight_returns_to_zero(tmp_path: Path) -> None:
    queue = FlakyAcks(tmp_path / "queue.db", visibility_timeout=2)
    queue.send(b"work")
    runs = []
    run = make_worker(queue, lambda m, ctx: runs.append(m.delivery_count))
    with running(run):
        wait_until(lambda: settled(queue), 10, "the ack to land")
        time.sleep(2.5)  # a lease's worth: no redelivery
    assert runs == [1]
    assert queue.failures == 0
    assert sample(run.metrics, "agentfleet_messages_in_flight") == 0
    assert sample(run.metrics, "agentfleet_messages_succeeded_total") == 1


def test_ack_that_keeps_failing_leaves_the_message_to_its_lease_and_frees_the_slot(tmp_path: Path) -> None:
    queue = FlakyAcks(tmp_path / "queue.db", visibility_timeout=1)
    queue.failures = 6  # every settle attempt of the first delivery fails
    queue.send(b"work")
    runs: list[int] = []
    run = make_worker(queue, lambda m, ctx: runs.append(m.delivery_count), visibility_timeout=1)
    with running(run):
        wait_until(lambda: settled(queue), 15, "the redelivery to be acked")
    assert runs == [1, 2], "an unsettled message comes back after its lease"
    assert sample(run.metrics, "agentfleet_messages_in_flight") == 0
    assert sample(run.metrics, "agentfleet_messages_succeeded_total") == 1, "only the acked delivery"


class FlakyReceives(SqliteBackend):
    """The broker is unreachable for the first `failures` receives."""

    failures = 2

    def receive(self, max_messages: int, wait_seconds: float) -> list[Message]:
        if self.failures > 0:
            self.failures -= 1
            raise BackendError("connection refused")
        return super().receive(max_messages, wait_seconds)


def test_receive_errors_back_off_and_the_worker_recovers(tmp_path: Path) -> None:
    queue = FlakyReceives(tmp_path / "queue.db")
    queue.send(b"after the outage")
    done: list[bytes] = []
    with running(make_worker(queue, lambda m, ctx: done.append(m.body))):
        wait_until(lambda: settled(queue), 10, "the message after the outage")
    assert done == [b"after the outage"] and queue.failures == 0


class LosesFirstAck(SqliteBackend):
    """The first ack finds the lease gone (the agent stalled past it): the message comes back."""

    lost = False

    def ack(self, message: Message) -> None:
        if not self.lost:
            self.lost = True
            raise LeaseLost("lease expired while the handler ran")
        super().ack(message)


def test_ctx_once_keeps_a_redelivered_message_from_applying_its_effect_twice(tmp_path: Path) -> None:
    queue = LosesFirstAck(tmp_path / "queue.db", visibility_timeout=1)
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


# -- startup errors ---------------------------------------------------------------------------


def env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    base = {contract.BACKEND: "sqlite", contract.QUEUE: str(tmp_path / "q.db"), contract.PORT: "0"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v != "<unset>"}


@pytest.mark.parametrize(
    "overrides,variable",
    [
        ({contract.QUEUE: "<unset>"}, contract.QUEUE),
        ({contract.BACKEND: "kafka"}, contract.BACKEND),
        ({contract.BACKEND: "<unset>"}, contract.BACKEND),
        ({contract.CONCURRENCY: "many"}, contract.CONCURRENCY),
        ({contract.CONCURRENCY: "0"}, contract.CONCURRENCY),
        ({contract.VISIBILITY_TIMEOUT: "1.5"}, contract.VISIBILITY_TIMEOUT),
        ({contract.LIFECYCLE: "gcp-preemption"}, contract.LIFECYCLE),
        ({contract.LIFECYCLE: "aws-asg"}, contract.LIFECYCLE_HOOK),
    ],
)
def test_bad_environment_is_a_startup_error_naming_the_variable(
    tmp_path: Path, overrides: dict[str, str], variable: str
) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env(env(tmp_path, **overrides))
    assert variable in str(error.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env({contract.BACKEND: "kafka", contract.PORT: "http"})
    assert len(error.value.problems) == 3  # backend, queue, port


def test_settings_read_the_contract(tmp_path: Path) -> None:
    variables = {contract.CONCURRENCY: "4", contract.MAX_RECEIVE_COUNT: "7", contract.HANDLER: "a.b:c"}
    settings = Settings.from_env(env(tmp_path, **variables), handler="x.y:z")
    assert (settings.concurrency, settings.max_receive_count, settings.handler) == (4, 7, "x.y:z")


@pytest.mark.parametrize(
    "handler", ["agentfleet_nowhere.mod:handle", "agentfleet.agent.examples.echo:nope", "no-colon"]
)
def test_unimportable_handler_is_a_startup_error_naming_agentfleet_handler(
    tmp_path: Path, handler: str, capsys: Any
) -> None:
    queue = SqliteBackend(tmp_path / "q.db")
    queue.send(b"untouched")
    code = run_agent(env(tmp_path, **{contract.HANDLER: handler}))
    assert code == 2
    err = capsys.readouterr().err
    assert contract.HANDLER in err and handler in err
    assert queue.stats().waiting == 1, "an agent that cannot start must not touch the queue"


# -- batched acks -----------------------------------------------------------------------------


class BatchAcking(SqliteBackend):
    """A broker that deletes in batches (like SQS's DeleteMessageBatch): records each batch; can
    hold a batch until `gate` opens; `entry_errors` maps a body to the errors its next acks get
    (an entry the "broker" fails is not deleted); `call_errors` fail whole calls."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batches: list[list[bytes]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entry_errors: dict[bytes, list[BaseException]] = {}
        self.call_errors: list[BaseException] = []

    def ack_batch(self, messages: Any) -> list[BaseException | None]:
        self.gate.wait(10)
        self.batches.append([m.body for m in messages])
        if self.call_errors:
            raise self.call_errors.pop(0)
        results: list[BaseException | None] = []
        for m in messages:
            errors = self.entry_errors.get(m.body)
            if errors:
                results.append(errors.pop(0))
                continue
            try:
                super().ack(m)
                results.append(None)
            except LeaseLost as e:
                results.append(e)
        return results


def retries_layer(run: Any) -> Retries:
    layer = run.worker.middleware[-1]
    assert isinstance(layer, Retries) and layer.acks is not None, "the backend's acks are batched"
    return layer


def test_acks_go_out_in_batches_of_ten(tmp_path: Path) -> None:
    queue = BatchAcking(tmp_path / "queue.db", visibility_timeout=5)
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
    queue = BatchAcking(tmp_path / "queue.db", visibility_timeout=5)
    queue.send(b"alone")
    with running(make_worker(queue, lambda m, ctx: None, visibility_timeout=5)):
        start = time.monotonic()
        wait_until(lambda: settled(queue), 5, "the lone ack")
        assert time.monotonic() - start < 2
    assert queue.batches == [[b"alone"]]


def test_success_is_not_reported_before_the_broker_confirmed_the_ack(tmp_path: Path) -> None:
    queue = BatchAcking(tmp_path / "queue.db", visibility_timeout=2)
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
    queue = BatchAcking(tmp_path / "queue.db", visibility_timeout=30)
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
    queue = BatchAcking(tmp_path / "queue.db", visibility_timeout=1)
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
    queue = BatchAcking(tmp_path / "queue.db", visibility_timeout=1)
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


class CountsReceives(SqliteBackend):
    """Records how many messages each receive asked for and got."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.receives: list[tuple[int, int]] = []

    def receive(self, max_messages: int, wait_seconds: float) -> list[Message]:
        got = super().receive(max_messages, wait_seconds)
        if got:
            self.receives.append((max_messages, len(got)))
        return got


def test_a_fast_handler_receives_full_batches_of_ten(tmp_path: Path) -> None:
    queue = CountsReceives(tmp_path / "queue.db", visibility_timeout=30)
    queue.send_many(str(i).encode() for i in range(200))
    with running(make_worker(queue, lambda m, ctx: None, visibility_timeout=30)):
        wait_until(lambda: settled(queue), 20, "all messages")
    sizes = [got for _, got in queue.receives]
    assert sum(sizes) == 200
    # The first receives, before the handler's speed is known, take what fits; then 10 each
    # (the last one takes what is left).
    assert sizes[2:-1] == [10] * len(sizes[2:-1]), f"receive sizes {sizes}"


def test_slow_handlers_still_top_up_before_the_buffer_runs_dry(tmp_path: Path) -> None:
    queue = CountsReceives(tmp_path / "queue.db", visibility_timeout=30)
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
