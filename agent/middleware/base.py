"""Middleware: a chain of wrappers around the handler, so the consume loop stays short.

Each layer wraps the next one's call, WSGI- or Starlette-style: `process(message, call_next)` runs
code before and after `call_next` and returns the `Outcome`, with the handler innermost. (This is
not dramatiq's kind of middleware, which is a set of hook methods the broker calls at fixed
points.) Besides wrapping, a layer is told about every received batch (`after_receive`), every
unstarted message drain gives back (`given_back`) and every handler that ran past its bound
(`overdue`). The innermost
call runs the handler and never raises: it reports the handler's exception in the `Outcome`, which
the retries layer turns into ack / release-with-backoff / dead-letter.

A settlement may still be on its way when `process` returns: a batched ack (SQS DeleteMessageBatch)
is sent a moment later by the acker's thread. Such an outcome is `SETTLING` and carries a future
of the final outcome; layers that act on the final result (log, metrics, lease) use
`when_settled`, which runs at once for an outcome that is already final.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agentfleet.agent.backends.base import Message

#: Outcome.result values.
SUCCEEDED = "succeeded"  # handler returned, message acked
RETRIED = "retried"  # handler raised, message released with a backoff delay
DEAD_LETTERED = "dead_lettered"  # PermanentError, max deliveries, or a crash loop
LEASE_LOST = "lease_lost"  # the lease ended before we could settle: the broker will redeliver
SETTLE_FAILED = "settle_failed"  # the broker kept failing the ack/release; the lease will expire
RAISED = "raised"  # (innermost only) the handler raised; not yet settled
SETTLING = "settling"  # the handler succeeded and its ack is batched: `settling` gives the final outcome


@dataclass(frozen=True)
class Outcome:
    """What happened to one delivery."""

    result: str
    #: The handler's exception, if it raised (broker errors while settling go in `reason`).
    error: BaseException | None = None
    #: Seconds the handler ran (0 if it did not run).
    handler_seconds: float = 0.0
    #: Seconds until redelivery, for RETRIED.
    retry_delay: int | None = None
    #: Why it was dead-lettered (DEAD_LETTERED), or why settling failed (LEASE_LOST, SETTLE_FAILED).
    reason: str | None = None
    #: For SETTLING: resolves (never raises) to the final outcome once the broker answered.
    settling: Settlement | None = None

    def copy_with(self, **changes: object) -> Outcome:
        """This outcome with some fields changed (outcomes are immutable). Copies the fields
        directly: `dataclasses.replace` re-validates every field and ran twice per message."""
        unknown = changes.keys() - self.__dict__.keys()
        if unknown:
            raise TypeError(f"Outcome has no field {', '.join(sorted(unknown))}")
        copy = object.__new__(Outcome)
        copy.__dict__.update(self.__dict__)
        copy.__dict__.update(changes)
        return copy


Call = Callable[[Message], Outcome]


class Settlement:
    """The final outcome of a delivery whose settlement is on its way (a batched ack). Callbacks
    run once, with the outcome, on the thread that settles it (or at once if it already is).

    A `concurrent.futures.Future` did the same with a condition variable and several lock round
    trips per message; on a fast handler that was a measurable part of the agent's cost."""

    __slots__ = ("_lock", "_outcome", "_callbacks")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._outcome: Outcome | None = None
        self._callbacks: list[Callable[[Outcome], None]] = []

    def done(self) -> bool:
        return self._outcome is not None

    def outcome(self) -> Outcome:
        """The final outcome; only once `done()`."""
        if self._outcome is None:
            raise RuntimeError("the settlement is still on its way")
        return self._outcome

    def then(self, callback: Callable[[Outcome], None]) -> None:
        """Run `callback(final outcome)` when settled, or now if it already is."""
        with self._lock:
            if self._outcome is None:
                self._callbacks.append(callback)
                return
            outcome = self._outcome
        callback(outcome)

    def settle(self, outcome: Outcome) -> None:
        """Record the final outcome and run the callbacks (each on its own: one that raises does
        not keep the others from running)."""
        with self._lock:
            if self._outcome is not None:
                return
            self._outcome = outcome
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback(outcome)
            except Exception as e:  # a broken layer must not stop the others (or the batcher)
                _report_callback_error(e)


def _report_callback_error(error: Exception) -> None:
    from agentfleet.agent.logging import get_logger

    get_logger(component="settlement").error("settlement callback failed", error=repr(error))


def when_settled(outcome: Outcome, then: Callable[[Outcome], None]) -> None:
    """Run `then` with the final outcome: now if it is final, else when its settlement completes
    (on the thread that completes it)."""
    if outcome.settling is None:
        then(outcome)
    else:
        outcome.settling.then(then)


class Middleware:
    """A layer around message processing; override what you need."""

    def after_receive(self, messages: Sequence[Message]) -> None:
        """Messages were leased (they may wait in the prefetch buffer before they start)."""

    def given_back(self, message: Message) -> None:
        """An unstarted message was released (drain)."""

    def overdue(self, message: Message) -> None:
        """Its handler ran past the worker's handler_timeout: the agent gives up on the message."""

    def process(self, message: Message, call_next: Call) -> Outcome:
        return call_next(message)

    def close(self) -> None:
        """The worker stopped."""


def chain(layers: Sequence[Middleware], innermost: Call) -> Call:
    """Compose layers, first = outermost."""
    call = innermost
    for layer in reversed(layers):
        call = _bind(layer, call)
    return call


def _bind(layer: Middleware, call_next: Call) -> Call:
    def call(message: Message) -> Outcome:
        return layer.process(message, call_next)

    return call
