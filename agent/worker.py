"""The consume loop: receive in batches with long polling, run up to `concurrency` handlers at
once, let the middleware settle each message; on stop, drain.

Threads: the loop (the caller of `run`) receives into a small prefetch buffer; `concurrency`
handler threads take from it. Everything else — leases, retries, dead letters, metrics, logs —
is middleware around the handler call.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from agentfleet.agent.backends.base import BackendError, LeaseLost, Message, QueueBackend
from agentfleet.agent.context import Context, Resources
from agentfleet.agent.handler import Invoker
from agentfleet.agent.logging import get_logger
from agentfleet.agent.middleware.base import RAISED, SUCCEEDED, Middleware, Outcome, chain

#: Adaptive prefetch holds about this many seconds of work beyond the running handlers...
PREFETCH_SECONDS = 0.5
#: ...and at most this many messages (two SQS receive batches), whatever the backend's claim size:
#: an agent that dies (SIGKILL, a lost VM) costs every message it holds a delivery, so a deeper
#: buffer would bring a message nearer the dead-letter queue with each crash, while the agent
#: already has work for `concurrency` handlers plus this many without waiting for the broker.
PREFETCH_MAX = 20


def adaptive_prefetch(concurrency: int, mean_seconds: float) -> int:
    """Messages an agent holds beyond its running handlers once it knows the handler's average
    time: about PREFETCH_SECONDS of work, at least `concurrency`, at most PREFETCH_MAX (unless
    `concurrency` is larger). The simulator uses the same rule."""
    wanted = int(concurrency * PREFETCH_SECONDS / max(mean_seconds, 1e-6))
    return max(concurrency, min(PREFETCH_MAX, wanted))


@dataclass(frozen=True)
class DrainReport:
    """How the worker stopped."""

    given_back: int  # unstarted prefetched messages released at once
    unfinished: int  # handlers still running when the drain timeout ran out
    seconds: float

    @property
    def clean(self) -> bool:
        return self.unfinished == 0


class Worker:
    """Consumes one queue with one handler until `stop()`, then drains."""

    def __init__(
        self,
        backend: QueueBackend,
        invoker: Invoker,
        resources: Resources,
        middleware: Sequence[Middleware],
        *,
        concurrency: int = 1,
        prefetch: int | None = None,
        wait_seconds: float = 5.0,
        drain_timeout: float = 60.0,
        handler_timeout: float = 0.0,
    ) -> None:
        """`handler_timeout`: seconds one handler may run (0 = no bound). Past it the worker calls
        the handler stuck: it tells the layers (the lease keeper stops renewing that message, so
        the broker hands it to another agent) and stops its heartbeat, so /healthz fails and the
        platform replaces the agent. A thread cannot be killed; replacing the agent is the cure."""
        self.backend = backend
        self.invoker = invoker
        self.resources = resources
        self.middleware = list(middleware)
        self.concurrency = concurrency
        #: Messages held beyond those running; they are lease-kept and given back on drain.
        #: None = adaptive: about PREFETCH_SECONDS of work at the observed handler speed, at
        #: least `concurrency` (fast handlers get full batches, slow ones are not hoarded by one
        #: agent while a newly scaled-out agent sits idle).
        self.fixed_prefetch = prefetch
        #: The most messages one receive asks for.
        self.max_batch = max(1, backend.max_receive_batch)
        self._avg_seconds: float | None = None
        self.wait_seconds = wait_seconds
        self.drain_timeout = drain_timeout
        self.handler_timeout = handler_timeout
        self.heartbeat = time.monotonic()
        self._buffer: queue.Queue[Message | None] = queue.Queue()
        self._lock = threading.Lock()
        self._slot_freed = threading.Event()
        self._stopping = threading.Event()
        #: Messages whose handler is running, and since when (monotonic): see _begin / _end.
        self._running: dict[int, tuple[Message, float]] = {}
        #: Of those, the ones past handler_timeout.
        self._overdue: set[int] = set()
        self._settling = 0  # handlers done, acks batched and not yet confirmed by the broker
        self._given_back = 0
        self._stop_requested_at: float | None = None
        self._process = chain(self.middleware, self._run_handler)
        self._log = get_logger(component="worker")

    # -- public ----------------------------------------------------------------------------------

    @property
    def draining(self) -> bool:
        return self._stopping.is_set()

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._running)

    @property
    def healthy(self) -> bool:
        """False while a handler that ran past handler_timeout is still running."""
        with self._lock:
            return not self._overdue

    @property
    def prefetch(self) -> int:
        if self.fixed_prefetch is not None:
            return self.fixed_prefetch
        avg = self._avg_seconds
        return self.concurrency if avg is None else adaptive_prefetch(self.concurrency, avg)

    def stop(self) -> None:
        """Begin the drain: safe to call from a signal handler or any thread, any number of times.
        Takes no lock: a signal handler runs on the main thread, which may hold one right then."""
        if self._stop_requested_at is None:
            self._stop_requested_at = time.monotonic()
        self._stopping.set()
        self._slot_freed.set()

    def run(self) -> DrainReport:
        """Consume until stop(); then give back unstarted messages, wait for running handlers up to
        the drain timeout, and report."""
        threads = [
            threading.Thread(target=self._handler_thread, name=f"agentfleet-handler-{i}", daemon=True)
            for i in range(self.concurrency)
        ]
        for t in threads:
            t.start()
        failures = 0
        while not self._stopping.is_set():
            self._check_handlers()
            self._slot_freed.clear()
            room = self._room()
            if room is None:
                # Every handler busy and the buffer stocked: wait until it runs low, don't poll.
                self._slot_freed.wait(1.0)
                continue
            try:
                batch = self.backend.receive(min(self.max_batch, max(1, room)), self.wait_seconds)
                failures = 0
            except Exception as e:  # BackendError, or an SDK error a backend failed to wrap
                failures += 1
                self._log.warning("receive failed", error=f"{type(e).__name__}: {e}", attempt=failures)
                self._stopping.wait(min(30.0, 0.5 * 2**failures))
                continue
            if not batch:
                continue
            for layer in self.middleware:
                layer.after_receive(batch)
            for message in batch:
                self._buffer.put(message)
            if self._stopping.is_set():
                break
        return self._drain(threads)

    # -- internals -------------------------------------------------------------------------------

    def _room(self) -> int | None:
        """How many messages to receive now, or None while the buffer is still well stocked.

        While every handler is busy the loop tops up once half a batch fits — or, when the
        prefetch is deep enough, waits until a whole batch fits with a message per handler still
        buffered: a fast handler's agent then receives 10 per request instead of ~5 (half the
        receive requests, which SQS bills) without running dry while the receive is on its way.
        An idle handler never waits: then any room is worth a receive."""
        with self._lock:
            stuck = len(self._overdue)
            running = len(self._running) - stuck
        # A handler past its bound is not capacity: the agent receives nothing it cannot run (an
        # agent whose every handler is stuck receives nothing while the platform replaces it).
        working = self.concurrency - stuck
        if working <= 0:
            return None
        outstanding = self._buffer.qsize() + running
        capacity = working + self.prefetch
        room = capacity - outstanding
        most = self.max_batch
        batch = max(min(most, capacity) // 2, min(most, self.prefetch - working))
        if outstanding >= working and room < max(1, batch):
            return None
        return room

    def _begin(self, message: Message) -> bool:
        """The one place a message's handling starts; False while draining (give it back)."""
        with self._lock:
            if self._stopping.is_set():
                return False
            self._running[id(message)] = (message, time.monotonic())
            return True

    def _end(self, message: Message) -> None:
        """The one place a message's handling ends (settled, or its settlement batched)."""
        with self._lock:
            self._running.pop(id(message), None)
            self._overdue.discard(id(message))

    def _check_handlers(self) -> None:
        """Beat the heartbeat, unless a handler ran past its bound: then tell the layers about it
        once, and let the heartbeat go stale so /healthz fails."""
        now = time.monotonic()
        late: list[tuple[Message, float]] = []
        with self._lock:
            if self.handler_timeout > 0:
                for key, (message, started) in self._running.items():
                    if key not in self._overdue and now - started > self.handler_timeout:
                        self._overdue.add(key)
                        late.append((message, now - started))
            stuck = bool(self._overdue)
        for message, seconds in late:
            self._log.error(
                "handler ran past its bound; its lease is no longer renewed and the agent reports unhealthy",
                message_id=message.id,
                seconds=round(seconds, 1),
                handler_timeout=self.handler_timeout,
            )
            for layer in self.middleware:
                layer.overdue(message)
        if late and self.concurrency - len(self._overdue) <= 0:
            self._give_back_buffered()  # no handler left to run them: let another agent have them
        if not stuck:
            self.heartbeat = now

    def _give_back_buffered(self) -> None:
        """Give back every message waiting in the buffer (a drain's sentinels stay)."""
        sentinels = 0
        while True:
            try:
                message = self._buffer.get_nowait()
            except queue.Empty:
                break
            if message is None:
                sentinels += 1
            else:
                self._give_back(message)
        for _ in range(sentinels):
            self._buffer.put(None)

    def _handler_thread(self) -> None:
        while True:
            message = self._buffer.get()
            if message is None:
                return
            if not self._begin(message):
                self._give_back(message)
                continue
            try:
                outcome = self._process(message)
                if outcome.settling is not None:
                    with self._lock:
                        self._settling += 1
                    outcome.settling.then(self._settled)
            except Exception as e:  # a bug in a layer (or a broken log pipe) must not kill the thread
                with contextlib.suppress(Exception):
                    self._log.error("processing crashed", message_id=message.id, error=repr(e))
            finally:
                self._end(message)
                if self._room() is not None:  # wake the loop only when it has something to do
                    self._slot_freed.set()

    def _settled(self, _: object) -> None:
        with self._lock:
            self._settling -= 1

    def _run_handler(self, message: Message) -> Outcome:
        ctx = Context(message, self.resources, self._log)
        start = time.perf_counter()
        error: BaseException | None = None
        try:
            self.invoker(message, ctx)
        except BaseException as e:  # a handler's sys.exit() is its failure, not the agent's
            error = e
        seconds = time.perf_counter() - start
        avg = self._avg_seconds  # moving average; races between threads only blur it
        self._avg_seconds = seconds if avg is None else 0.8 * avg + 0.2 * seconds
        return Outcome(SUCCEEDED if error is None else RAISED, error=error, handler_seconds=seconds)

    def _give_back(self, message: Message) -> None:
        for layer in self.middleware:
            layer.given_back(message)
        for attempt in range(3):
            try:
                self.backend.give_back(message)
                break
            except LeaseLost:
                break
            except BackendError as e:
                self._log.warning("give back failed", message_id=message.id, error=str(e), attempt=attempt)
                time.sleep(0.1 * (attempt + 1))
        with self._lock:
            self._given_back += 1

    def _drain(self, threads: list[threading.Thread]) -> DrainReport:
        start = time.monotonic()
        self._log.info("draining", in_flight=self.in_flight, buffered=self._buffer.qsize())
        while True:  # unstarted messages go back at once
            try:
                message = self._buffer.get_nowait()
            except queue.Empty:
                break
            if message is not None:
                self._give_back(message)
        for _ in threads:
            self._buffer.put(None)
        # The drain timeout counts from the stop request (SIGTERM), not from the loop's exit.
        deadline = (self._stop_requested_at or start) + self.drain_timeout
        for t in threads:
            while t.is_alive() and time.monotonic() < deadline:
                self._check_handlers()  # draining is alive: /healthz stays green unless a handler is stuck
                t.join(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
        # Innermost first: the retries layer sends the acks still waiting for their batch while the
        # lease keeper still holds those messages; only then does the lease keeper stop.
        for layer in reversed(self.middleware):
            layer.close()
        with self._lock:  # still running, or finished with their ack unconfirmed
            unfinished = len(self._running) + self._settling
        self.invoker.close()
        report = DrainReport(self._given_back, unfinished, time.monotonic() - start)
        self._log.info(
            "drained" if report.clean else "drain timed out",
            given_back=report.given_back,
            unfinished=report.unfinished,
            seconds=round(report.seconds, 3),
        )
        return report
