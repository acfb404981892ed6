"""Lease extension: one background thread keeps every leased message of this agent leased.

A message is tracked from the moment it is received — not when its handler starts — so one that
waits in the prefetch buffer is protected too. Each lease is renewed early, at `renew_fraction`
(1/3) of the visibility timeout, by a full timeout: a renewal that comes late (a busy machine, a
slow broker call) still lands long before the lease ends (renewing at the last second is what
fails on Service Bus). Renewals run in parallel on a few threads, so a slow broker call for one
message does not make the next message's renewal late. Renewal stops when the message is settled
(for a batched ack: when the broker has answered), given back, or its lease is lost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from agentfleet.agent.backends.base import BackendError, LeaseLost, Message, QueueBackend
from agentfleet.agent.logging import get_logger
from agentfleet.agent.middleware.base import Call, Middleware, Outcome, when_settled


class LeaseKeeper(Middleware):
    def __init__(
        self,
        backend: QueueBackend,
        visibility_timeout: float,
        *,
        renew_fraction: float = 1 / 3,
        on_extended: Callable[[], None] | None = None,
        renewers: int = 8,
    ) -> None:
        self.backend = backend
        self.visibility_timeout = visibility_timeout
        self.renew_every = max(0.05, visibility_timeout * renew_fraction)
        self.on_extended = on_extended or (lambda: None)
        self._renew_at: dict[int, tuple[Message, float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._log = get_logger(component="lease")
        self._pool = ThreadPoolExecutor(max_workers=renewers, thread_name_prefix="agentfleet-renew")
        self._thread = threading.Thread(target=self._run, name="agentfleet-lease", daemon=True)
        self._thread.start()

    def after_receive(self, messages: Sequence[Message]) -> None:
        due = time.monotonic() + self.renew_every
        with self._lock:
            for m in messages:
                self._renew_at[id(m)] = (m, due)

    def given_back(self, message: Message) -> None:
        self._untrack(message)

    def overdue(self, message: Message) -> None:
        """A stuck handler's message is let go: its lease runs out and another agent gets it."""
        self._untrack(message)

    def process(self, message: Message, call_next: Call) -> Outcome:
        try:
            outcome = call_next(message)
        except BaseException:
            self._untrack(message)
            raise
        # A batched ack is still on its way: keep the lease until the broker has answered.
        when_settled(outcome, lambda _: self._untrack(message))
        return outcome

    def _untrack(self, message: Message) -> None:
        with self._lock:
            self._renew_at.pop(id(message), None)

    def tracked(self) -> int:
        with self._lock:
            return len(self._renew_at)

    def _run(self) -> None:
        tick = min(1.0, self.renew_every / 4)
        while not self._stop.wait(tick):
            now = time.monotonic()
            with self._lock:
                due = [m for m, at in self._renew_at.values() if at <= now]
                for m in due:  # in progress: not due again until this renewal finishes
                    self._renew_at[id(m)] = (m, float("inf"))
            for message in due:  # in parallel: one slow broker call must not delay the others
                self._pool.submit(self._renew, message)

    def _renew(self, message: Message) -> None:
        try:
            self.backend.extend_lease(message, int(round(self.visibility_timeout)))
        except LeaseLost as e:
            self._log.warning("lease lost", message_id=message.id, error=str(e))
            self._untrack(message)
            return
        except BackendError as e:  # try again soon; the lease still has 2/3 of its time
            self._log.warning("lease extension failed", message_id=message.id, error=str(e))
            retry_at = time.monotonic() + min(1.0, self.renew_every / 4)
            with self._lock:
                if id(message) in self._renew_at:
                    self._renew_at[id(message)] = (message, retry_at)
            return
        with self._lock:
            if id(message) in self._renew_at:
                self._renew_at[id(message)] = (message, time.monotonic() + self.renew_every)
            else:
                return  # settled while we renewed
        self.on_extended()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)
