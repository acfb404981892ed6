"""A handler that hangs: past AGENTFLEET_HANDLER_TIMEOUT its lease is no longer renewed (another
agent gets the message) and /healthz fails, so the platform replaces the agent (issue 15,
finding 8)."""

from __future__ import annotations

import threading
from pathlib import Path

from agentfleet.agent import contract
from agentfleet.agent.backends.base import Message
from agentfleet.agent.backends.sqlite import SqliteBackend
from agentfleet.agent.context import Context
from agentfleet.agent.health import HealthState
from agentfleet.agent.settings import Settings
from tests.runtime.harness import make_worker, running, wait_until


def test_a_hung_handler_loses_its_lease_and_the_agent_reports_unhealthy(tmp_path: Path) -> None:
    queue = SqliteBackend(tmp_path / "queue.db", visibility_timeout=1, max_receive_count=5)
    # concurrency 1: "waits behind it" sits in the prefetch buffer behind the hung handler
    queue.send_many([b"hangs", b"waits behind it"])
    release = threading.Event()
    started = threading.Event()

    def hangs(message: Message, ctx: Context) -> None:
        started.set()
        release.wait(60)

    run = make_worker(queue, hangs, visibility_timeout=1, max_receive_count=5, handler_timeout=2)
    health = HealthState(
        queue,
        run.metrics.registry,
        warmup_seconds=0,
        heartbeat=lambda: run.worker.heartbeat,
        draining=lambda: run.worker.draining,
        stale_after=3.0,  # the loop beats at least every second
    )
    other = SqliteBackend(tmp_path / "queue.db", visibility_timeout=30)
    taken: list[Message] = []
    try:
        with running(run):
            assert started.wait(10)
            assert health.alive()[0], "healthy while the handler is within its bound"
            wait_until(lambda: not run.worker.healthy, 20, "the handler to be called stuck")
            wait_until(lambda: not health.alive()[0], 20, "/healthz to fail")
            wait_until(
                lambda: bool(taken.extend(other.receive(10, 0.2))) or len(taken) == 2, 20, "another agent"
            )
            release.set()
    finally:
        release.set()
    counts = {m.body: m.delivery_count for m in taken}
    # The stuck one's lease ran out; the one buffered behind it was given back (not counted).
    assert counts == {b"hangs": 2, b"waits behind it": 1}


def test_the_handler_bound_defaults_to_ten_leases_and_at_most_twelve_hours(tmp_path: Path) -> None:
    base = {contract.BACKEND: "sqlite", contract.QUEUE: str(tmp_path / "q.db")}
    assert Settings.from_env(base).handler_timeout == 3000
    assert Settings.from_env({**base, contract.VISIBILITY_TIMEOUT: "60"}).handler_timeout == 600
    assert Settings.from_env({**base, contract.VISIBILITY_TIMEOUT: "43200"}).handler_timeout == 43_200
    assert Settings.from_env({**base, contract.HANDLER_TIMEOUT: "0"}).handler_timeout == 0
