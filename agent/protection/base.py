"""Busy agents protect themselves from scale-in: the agent flips its platform's protection flag.

The scaling policy decides how many agents the fleet needs; the platform decides which agent goes
(docs/DESIGN.md, "Busy agents"). An agent that holds work marks itself protected, so a scale-in
removes idle agents first and, when every agent is busy, waits until one goes idle.

`Protector` is a middleware layer, outermost: it counts the handlers running (the worker's
in-flight count) and, on 0 -> 1 (busy) and 1 -> 0 (idle), tells a background thread what the
platform flag should be. The thread is the only caller of the platform API, so a slow or failing
call never holds up a message:

- protecting is immediate on busy; unprotecting waits `idle_grace_seconds` of continuous idleness
  (hysteresis: a steady trickle of messages does not call the API per message);
- a failed call is logged, counted in `agentfleet_protection_failures_total{reason}` and retried
  with exponential backoff (a throttled call waits at least the platform's Retry-After), never
  raised: the agent keeps working unprotected, as it would without this layer;
- `/metrics` shows `agentfleet_busy` (0/1) and `agentfleet_protected` (0/1, the flag the platform
  last confirmed); each confirmed change is logged and counted.

Backends (`aws.py`, `azure.py`, `kubernetes.py`, `local.py`) implement one call, `apply(protected)`.
"""

from __future__ import annotations

import abc
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from agentfleet.agent.backends.base import Message
from agentfleet.agent.contract import PROTECTION_IDLE_GRACE_SECONDS
from agentfleet.agent.logging import get_logger
from agentfleet.agent.middleware.base import Call, Middleware, Outcome

#: Seconds an agent stays protected after it goes idle, on the clouds. A task that follows within
#: this time costs no API call; an idle agent is removable this much later than it could be, which
#: is small next to any cloud's scale-in cooldown. In the contract, which the simulation models read.
DEFAULT_IDLE_GRACE_SECONDS = PROTECTION_IDLE_GRACE_SECONDS
#: Backoff after a failed toggle: doubles from MIN to MAX, jittered within [half, full].
MIN_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 60.0
#: How long a clean stop waits for the last toggle (unprotect) before the process exits.
STOP_TIMEOUT_SECONDS = 5.0


class ProtectionError(RuntimeError):
    """The platform refused or failed the toggle; retried with backoff."""


class Throttled(ProtectionError):
    """The platform asked us to slow down (HTTP 429, AWS Throttling); `retry_after` if it said."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def retry_after(headers: Any) -> float | None:
    """The `Retry-After` header in seconds (the delta-seconds form ARM and Kubernetes send)."""
    raw = headers.get("Retry-After") if headers is not None else None
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


class ProtectionBackend(abc.ABC):
    """Sets this agent's scale-in protection on its platform."""

    kind: str = ""
    #: Default hysteresis for this platform (the local fleet has no API to spare: 0).
    idle_grace_seconds: float = DEFAULT_IDLE_GRACE_SECONDS

    @abc.abstractmethod
    def apply(self, protected: bool) -> None:
        """Set the flag; raise `Throttled` / `ProtectionError` (or any error) on failure."""

    def describe(self) -> dict[str, str]:
        """What the log names: the instance / VM / pod this agent protects."""
        return {}


class Protector(Middleware):
    """Follows busy/idle with the platform's protection flag; never fails a message."""

    def __init__(
        self,
        backend: ProtectionBackend | None,
        registry: CollectorRegistry | None = None,
        *,
        idle_grace_seconds: float | None = None,
        min_backoff: float = MIN_BACKOFF_SECONDS,
        max_backoff: float = MAX_BACKOFF_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.kind = backend.kind if backend is not None else "none"
        grace = backend.idle_grace_seconds if backend is not None else 0.0
        self.idle_grace_seconds = grace if idle_grace_seconds is None else idle_grace_seconds
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.clock = clock
        r = registry or CollectorRegistry()
        self.busy_gauge = Gauge("agentfleet_busy", "1 while a handler runs, else 0", registry=r)
        self.protected_gauge = Gauge(
            "agentfleet_protected",
            "1 while the platform holds this agent protected from scale-in",
            registry=r,
        )
        self.changes = Counter(
            "agentfleet_protection_changes", "Protection changes the platform confirmed", registry=r
        )
        self.failures = Counter(
            "agentfleet_protection_failures", "Protection toggles that failed", ["reason"], registry=r
        )
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._in_flight = 0
        self._idle_since = float("-inf")  # idle since forever: nothing to protect at start
        #: What the platform last confirmed; None until the first call (a restarted agent may have
        #: left its instance protected, so the first reconcile always sets the flag).
        self.applied: bool | None = None
        self.attempts = 0
        self._log = get_logger(component="protection", kind=self.kind)
        self._thread: threading.Thread | None = None
        if backend is not None:
            self._thread = threading.Thread(
                target=self._reconcile_loop, name="agentfleet-protection", daemon=True
            )
            self._thread.start()

    # -- the worker's side ------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._in_flight > 0

    def process(self, message: Message, call_next: Call) -> Outcome:
        self._mark(+1)
        try:
            return call_next(message)
        finally:
            self._mark(-1)

    def _mark(self, delta: int) -> None:
        with self._lock:
            self._in_flight += delta
            changed = self._in_flight == (1 if delta > 0 else 0)
            if changed and delta < 0:
                self._idle_since = self.clock()
        if changed:
            self.busy_gauge.set(1 if delta > 0 else 0)
            self._wake.set()

    def close(self) -> None:
        """The worker stopped: the process is exiting and holds no more work, so leave the platform
        unprotected (an instance whose agent restarts must not stay pinned)."""
        self.stop()

    # -- the platform's side ----------------------------------------------------------------------

    def wanted(self) -> bool:
        """Protected while busy, and for `idle_grace_seconds` after going idle."""
        with self._lock:
            if self._in_flight > 0:
                return True
            idle_since = self._idle_since
        return self.clock() - idle_since < self.idle_grace_seconds

    def _next_change_in(self) -> float | None:
        """Seconds until the grace runs out (when `wanted` may turn false by itself)."""
        with self._lock:
            if self._in_flight > 0:
                return None
            left = self.idle_grace_seconds - (self.clock() - self._idle_since)
        return left if left > 0 else None

    def _reconcile_loop(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            self._wake.clear()
            wait: float | None = self._next_change_in()
            target = self.wanted()
            if target != self.applied:
                delay = self._try_apply(target, failures + 1)
                if delay is None:
                    failures = 0
                    continue  # look again at once: busy may have changed during the call
                failures += 1
                wait = delay
            self._wake.wait(timeout=wait)
            if self._stopping.is_set():
                return

    def _try_apply(self, target: bool, attempt: int) -> float | None:
        """One call; None when it worked, else the seconds to wait before the next try."""
        assert self.backend is not None
        self.attempts += 1
        try:
            self.backend.apply(target)
        except Throttled as error:
            self.failures.labels(reason="throttled").inc()
            delay = max(self._backoff(attempt), error.retry_after or 0.0)
            self._log.warning("protection throttled", protected=target, error=str(error), retry_in_s=delay)
            return delay
        except Exception as error:  # any failure: logged, counted, retried; never the agent's end
            self.failures.labels(reason="error").inc()
            delay = self._backoff(attempt)
            self._log.warning(
                "protection failed",
                protected=target,
                error=f"{type(error).__name__}: {error}",
                attempt=attempt,
                retry_in_s=round(delay, 3),
            )
            return delay
        previous, self.applied = self.applied, target
        self.protected_gauge.set(1 if target else 0)
        if previous is not None:
            self.changes.inc()
        self._log.info(
            "protected from scale-in" if target else "unprotected", busy=self.busy, **self.backend.describe()
        )
        return None

    def _backoff(self, attempt: int) -> float:
        full = min(self.max_backoff, self.min_backoff * 2 ** (attempt - 1))
        return random.uniform(full / 2, full)

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stop the thread; then one last unprotect (one try) if the platform still holds the flag."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=timeout)
        if self.backend is not None and self.applied:
            self._try_apply(False, 1)
