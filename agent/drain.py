"""Graceful drain: SIGTERM (or SIGINT), or the cloud's termination notice, stops the worker.

The worker then stops receiving, gives unstarted prefetched messages back at once, and waits for
in-flight handlers up to the drain timeout (AGENTFLEET_DRAIN_TIMEOUT). When it is done the
termination watcher is told (`on_drained`), so it can complete the AWS lifecycle action or approve
the Azure scheduled event, and the process exits: 0 after a clean drain, 1 if handlers were still
running at the timeout (their messages come back to another agent when their leases end).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

from agentfleet.agent.logging import get_logger

if TYPE_CHECKING:
    from agentfleet.agent.lifecycle.base import TerminationWatcher
    from agentfleet.agent.worker import DrainReport, Worker

EXIT_CLEAN = 0
EXIT_DRAIN_TIMEOUT = 1


class StopRequest:
    """A stop asked for by a signal, remembered from the moment the handlers are installed.

    The agent installs them before anything slow (importing the handler, opening the backend), so
    a SIGTERM during start-up is not death by the default handler (exit -15) but a request the
    worker honours as soon as it exists: it stops before its first receive and exits 0."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requested = False
        self._stops: list[Callable[[], None]] = []

    @property
    def requested(self) -> bool:
        with self._lock:
            return self._requested

    def request(self) -> None:
        with self._lock:
            self._requested = True
            stops = list(self._stops)
        for stop in stops:
            stop()

    def then(self, stop: Callable[[], None]) -> None:
        """Call `stop` on the request, or now if it was already made."""
        with self._lock:
            self._stops.append(stop)
            requested = self._requested
        if requested:
            stop()


def install_signal_handlers(stop: Callable[[], None]) -> None:
    """SIGTERM and SIGINT start the drain (main thread only, as Python requires)."""
    if threading.current_thread() is not threading.main_thread():
        return
    log = get_logger(component="drain")

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal received; draining", signal=signal.Signals(signum).name)
        stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


def run_until_drained(
    worker: Worker, watcher: TerminationWatcher, stop_request: StopRequest | None = None
) -> int:
    """Run the worker with signals and the watcher wired to its drain; return the exit code.
    `stop_request`: signal handlers the caller installed earlier (else they are installed here)."""
    log = get_logger(component="drain")

    def on_terminate() -> None:
        log.info("termination notice; draining")
        worker.stop()

    if stop_request is None:
        install_signal_handlers(worker.stop)
    else:
        stop_request.then(worker.stop)
    watcher.start(on_terminate)
    report: DrainReport | None = None
    try:
        report = worker.run()
    finally:
        try:
            watcher.on_drained()
        finally:
            watcher.stop()
    return EXIT_CLEAN if report.clean else EXIT_DRAIN_TIMEOUT
