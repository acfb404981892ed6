"""The ack batcher: successful deliveries are deleted many per broker call (SQS
DeleteMessageBatch, ten at a time; SQLite, one transaction for up to 200) instead of one call
each, without ever reporting an ack before the broker has confirmed it. Not a middleware: the
retries layer hands it the acks of the deliveries it settles.

A handler thread hands its finished message to the `AckBatcher` and moves on to the next one; the
batcher's thread sends a batch as soon as `max_batch` acks are waiting, or when the oldest has
waited `max_delay` seconds, and on close (drain) sends everything left before returning. Each
submitted ack gets a future that resolves to the final `Outcome` — only then are the outcome line
logged, the success counted and the lease keeper told to let go:

- confirmed by the broker → the `done` outcome (SUCCEEDED);
- the broker no longer holds that delivery (`LeaseLost`) → LEASE_LOST: the message comes back,
  `ctx.once` absorbs the repeat;
- a transient failure (`BackendError`, for the entry or the whole call) → that entry is retried
  with a short backoff, `attempts` times in all, then SETTLE_FAILED (its lease runs out and the
  message comes back);
- anything else → SETTLE_FAILED at once.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from agentfleet.agent.backends.base import BackendError, LeaseLost, Message
from agentfleet.agent.errors import describe
from agentfleet.agent.logging import get_logger
from agentfleet.agent.middleware.base import LEASE_LOST, SETTLE_FAILED, Outcome, Settlement


@runtime_checkable
class BatchAcks(Protocol):
    """A backend that can delete several deliveries in one call."""

    def ack_batch(self, messages: Sequence[Message]) -> list[BaseException | None]:
        """Ack each message; per message None (done) or its error (LeaseLost / BackendError / …).
        Raises when the whole call failed."""
        ...


@dataclass
class _Pending:
    message: Message
    done: Outcome
    future: Settlement
    #: When it starts waiting for its batch (monotonic): sent at the latest max_delay later.
    since: float
    attempt: int = 0
    #: No earlier than this (a retry's backoff).
    not_before: float = 0.0


class AckBatcher:
    """Collects acks and sends them in batches on its own thread."""

    def __init__(
        self,
        backend: BatchAcks,
        *,
        max_batch: int = 10,
        max_delay: float = 0.05,
        attempts: int = 6,
        pause: float = 0.05,
        together: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        """`together`: entered around settling each batch (the outcome log writes the batch's
        lines in one write)."""
        self.backend = backend
        self.together = together
        #: Acks per call (SQS's batch limit is 10).
        self.max_batch = max_batch
        #: Seconds the oldest waiting ack may wait for its batch to fill.
        self.max_delay = max_delay
        #: Tries per ack before it is given up as SETTLE_FAILED.
        self.attempts = attempts
        #: First retry pause, seconds; doubles per retry.
        self.pause = pause
        #: New acks in submission order (so the oldest is first), and acks waiting out a retry pause.
        self._fresh: deque[_Pending] = deque()
        self._retrying: list[_Pending] = []
        self._unsettled = 0
        self._cond = threading.Condition()
        self._closing = False
        self._log = get_logger(component="acks")
        self._thread = threading.Thread(target=self._run, name="agentfleet-acks", daemon=True)
        self._thread.start()

    @property
    def unsettled(self) -> int:
        """Acks submitted and not yet confirmed or given up (waiting, or in a call right now)."""
        with self._cond:
            return self._unsettled

    def submit(self, message: Message, done: Outcome) -> Settlement | None:
        """Queue an ack; the future resolves to `done` once the broker confirmed it (or to
        LEASE_LOST / SETTLE_FAILED). None once the batcher is closed: ack synchronously then."""
        future = Settlement()
        with self._cond:
            if self._closing:
                return None
            self._fresh.append(_Pending(message, done, future, since=time.monotonic()))
            self._unsettled += 1
            if len(self._fresh) == 1 or len(self._fresh) == self.max_batch:
                self._cond.notify()  # start the first ack's timer, or send a full batch now
        return future

    def close(self, timeout: float = 10.0) -> None:
        """Send every waiting ack now (retries included), then stop; at most `timeout` seconds."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)

    # -- the batcher's thread ------------------------------------------------------------------

    def _next_batch(self) -> list[_Pending] | None:
        """Wait for a batch that is due; None when closed and nothing is left. Retries whose
        pause is over go first; a batcher that fell behind takes up to max_batch at once."""
        with self._cond:
            while True:
                now = time.monotonic()
                due = [p for p in self._retrying if p.not_before <= now]
                waiting = len(self._fresh) + len(due)
                oldest = self._fresh[0].since if self._fresh else None
                if waiting and (
                    due
                    or waiting >= self.max_batch
                    or self._closing
                    or (oldest is not None and now - oldest >= self.max_delay)
                ):
                    batch = due[: self.max_batch]
                    if batch:
                        taken = {id(p) for p in batch}
                        self._retrying = [p for p in self._retrying if id(p) not in taken]
                    while self._fresh and len(batch) < self.max_batch:
                        batch.append(self._fresh.popleft())
                    return batch
                if self._closing and not self._retrying:
                    return None
                wake = [p.not_before for p in self._retrying]
                if oldest is not None:
                    wake.append(oldest + self.max_delay)
                self._cond.wait(max(0.001, min(wake) - now) if wake else None)

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            try:
                with self.together():
                    self._send(batch)
            except Exception as e:  # a broken backend answer must not stop every later ack
                self._log.error("ack batch crashed", error=describe(e))
                for pending in batch:
                    if not pending.future.done():
                        reason = f"{pending.done.result} but {describe(e)}"
                        self._finish(pending, pending.done.copy_with(result=SETTLE_FAILED, reason=reason))

    def _send(self, batch: list[_Pending]) -> None:
        try:
            results = self.backend.ack_batch([p.message for p in batch])
        except Exception as e:  # the whole call failed: every entry shares the error
            results = [e] * len(batch)
        if len(results) != len(batch):
            results = [RuntimeError(f"ack_batch answered {len(results)} of {len(batch)} acks")] * len(batch)
        retry: list[_Pending] = []
        last_error: BaseException | None = None
        for pending, error in zip(batch, results, strict=True):
            if error is None:
                self._finish(pending, pending.done)
            elif isinstance(error, LeaseLost):
                reason = f"{pending.done.result} but {error}"
                self._finish(pending, pending.done.copy_with(result=LEASE_LOST, reason=reason))
            elif isinstance(error, BackendError) and pending.attempt + 1 < self.attempts:
                pending.not_before = time.monotonic() + self.pause * 2**pending.attempt
                pending.attempt += 1
                retry.append(pending)
                last_error = error
            else:
                reason = f"{pending.done.result} but {describe(error)}"
                self._finish(pending, pending.done.copy_with(result=SETTLE_FAILED, reason=reason))
        if retry:
            error_text = describe(last_error) if last_error else ""
            self._log.warning("ack failed, retrying", messages=len(retry), error=error_text)
            with self._cond:
                self._retrying.extend(retry)
                self._cond.notify()

    def _finish(self, pending: _Pending, outcome: Outcome) -> None:
        with self._cond:
            self._unsettled -= 1
        pending.future.settle(outcome)  # runs the layers' callbacks: log, metrics, lease
