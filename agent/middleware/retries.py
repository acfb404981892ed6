"""Settling a delivery: ack on success, release with bounded exponential backoff on failure (a
delivery that only found its ctx.once key held elsewhere is given back, not counted),
dead-letter on PermanentError, on a handler that cannot import its code, or after
`max_receive_count` deliveries when the broker does not dead-letter natively (SQLite).

Broker calls that fail transiently (BackendError) are retried a few times, so a blip during an
ack does not turn finished work into a redelivery.

Where the backend can delete in batches (SQS), successful deliveries are acked through an
`AckBatcher`: the outcome is SETTLING until the broker confirmed the batch (agent/ack_batcher.py).
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from agentfleet.agent.ack_batcher import AckBatcher, BatchAcks
from agentfleet.agent.backends.base import BackendError, LeaseLost, Message, QueueBackend
from agentfleet.agent.errors import describe
from agentfleet.agent.handler import PermanentError
from agentfleet.agent.middleware.base import (
    DEAD_LETTERED,
    LEASE_LOST,
    RETRIED,
    SETTLE_FAILED,
    SETTLING,
    SUCCEEDED,
    Call,
    Middleware,
    Outcome,
)
from agentfleet.agent.state.base import InProgressElsewhere


class Retries(Middleware):
    """Turns the handler's outcome into exactly one broker settlement."""

    def __init__(
        self,
        backend: QueueBackend,
        max_receive_count: int,
        *,
        min_backoff: float = 1.0,
        max_backoff: float = 300.0,
        settle_attempts: int = 6,
        settle_pause: float = 0.05,
        batch_acks: bool = True,
        ack_delay: float = 0.05,
        settle_together: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        """`batch_acks`: ack through an AckBatcher when the backend can (`ack_batch`); an ack then
        waits at most `ack_delay` seconds for its batch to fill; `settle_together` is entered around
        settling each batch (the outcome log's one write per batch)."""
        self.backend = backend
        self.max_receive_count = max_receive_count
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.settle_attempts = settle_attempts
        self.settle_pause = settle_pause
        self.acks: AckBatcher | None = None
        if batch_acks and isinstance(backend, BatchAcks):
            self.acks = AckBatcher(
                backend,
                max_batch=getattr(backend, "max_ack_batch", 10),
                max_delay=ack_delay,
                attempts=settle_attempts,
                pause=settle_pause,
                together=settle_together,
            )

    def backoff(self, delivery_count: int) -> int:
        """Seconds before the next delivery: min_backoff · 2^(n-1), capped at max_backoff, with
        jitter in [half, full] so a burst of failures does not come back in lockstep; always
        within [min_backoff, max_backoff] (rounded to whole seconds, as brokers take)."""
        ceiling = min(self.max_backoff, self.min_backoff * 2 ** max(0, delivery_count - 1))
        delay = random.uniform(max(self.min_backoff, ceiling / 2), ceiling)
        return int(round(min(self.max_backoff, max(self.min_backoff, delay))))

    def _settle(self, action: Callable[[], None], done: Outcome) -> Outcome:
        for attempt in range(self.settle_attempts):
            try:
                action()
                return done
            except LeaseLost as e:
                return done.copy_with(result=LEASE_LOST, reason=f"{done.result} but {e}")
            except BackendError as e:
                if attempt == self.settle_attempts - 1:
                    return done.copy_with(result=SETTLE_FAILED, reason=f"{done.result} but {describe(e)}")
                time.sleep(self.settle_pause * 2**attempt)
            except Exception as e:  # a refusal retrying cannot fix (a missing or denied DLQ …)
                return done.copy_with(result=SETTLE_FAILED, reason=f"{done.result} but {describe(e)}")
        return done  # unreachable: the loop returns

    def _dead_letter(self, message: Message, reason: str, outcome: Outcome) -> Outcome:
        done = outcome.copy_with(result=DEAD_LETTERED, reason=reason)
        return self._settle(lambda: self.backend.dead_letter(message, reason), done)

    def process(self, message: Message, call_next: Call) -> Outcome:
        native = self.backend.native_dead_letter
        if not native and message.delivery_count > self.max_receive_count:
            reason = (
                f"delivered {message.delivery_count} times, more than max_receive_count="
                f"{self.max_receive_count}, without being settled (the agent died running it?)"
            )
            return self._dead_letter(message, reason, Outcome(DEAD_LETTERED))
        outcome = call_next(message)
        error = outcome.error
        if error is None:
            done = outcome.copy_with(result=SUCCEEDED)
            pending = self.acks.submit(message, done) if self.acks is not None else None
            if pending is not None:
                return outcome.copy_with(result=SETTLING, settling=pending)
            return self._settle(lambda: self.backend.ack(message), done)
        if isinstance(error, PermanentError):
            return self._dead_letter(message, f"PermanentError: {error}"[:1000], outcome)
        if isinstance(error, InProgressElsewhere):
            # Another delivery holds this message's ctx.once key (a producer's duplicate): waiting
            # for it is not a failed delivery, so it is given back, not counted where the backend
            # keeps the count, and never dead-lettered for it by the runtime.
            delay = self.backoff(message.delivery_count)
            return self._settle(
                lambda: self.backend.give_back(message, delay),
                outcome.copy_with(result=RETRIED, retry_delay=delay),
            )
        if isinstance(error, ImportError):
            reason = f"the handler cannot import its code: {describe(error)}"
            return self._dead_letter(message, reason, outcome)
        if not native and message.delivery_count >= self.max_receive_count:
            reason = (
                f"failed {message.delivery_count} deliveries (max_receive_count={self.max_receive_count}); "
                f"last error: {describe(error)}"
            )
            return self._dead_letter(message, reason, outcome)
        delay = self.backoff(message.delivery_count)
        return self._settle(
            lambda: self.backend.release(message, delay), outcome.copy_with(result=RETRIED, retry_delay=delay)
        )

    def close(self) -> None:
        """Send the acks still waiting for their batch (the drain), then stop the batcher."""
        if self.acks is not None:
            self.acks.close()
