"""Graceful drain: SIGTERM to a real `agentfleet agent run` process during work loses nothing,
gives unstarted messages back at once, lets in-flight work finish (no redelivery of finished
work), and exits 0 within the drain timeout; a termination watcher triggers the same drain."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from agentfleet.agent import contract
from agentfleet.agent.backends.base import Message
from agentfleet.agent.backends.sqlite import SqliteBackend
from agentfleet.agent.context import Context
from agentfleet.agent.drain import EXIT_CLEAN, run_until_drained
from agentfleet.agent.lifecycle.base import TerminationWatcher
from tests.runtime.harness import agent_env, make_worker, settled, start_agent, wait_until

pytestmark = pytest.mark.slow


def rows(log: Path, table: str) -> list[str]:
    if not log.exists():
        return []
    conn = sqlite3.connect(log, timeout=30)
    try:
        return [r[0] for r in conn.execute(f"SELECT body FROM {table}")]
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def test_sigterm_during_work_loses_nothing_and_redelivers_no_finished_work(tmp_path: Path) -> None:
    queue = SqliteBackend(tmp_path / "queue.db", visibility_timeout=30)
    bodies = [f"job-{i}" for i in range(30)]
    queue.send_many(b.encode() for b in bodies)
    log = tmp_path / "runs.db"
    env = agent_env(
        tmp_path / "queue.db",
        extra={
            contract.HANDLER: "tests.runtime.handlers:slow_handler",
            contract.CONCURRENCY: 2,
            contract.VISIBILITY_TIMEOUT: 30,  # a message not given back would be stuck for 30 s
            contract.DRAIN_TIMEOUT: 10,
            "RUNTIME_TEST_LOG": log,
        },
    )
    first = start_agent(env, tmp_path / "a.log")
    wait_until(lambda: len(rows(log, "finished")) >= 4, 30, "the first agent to finish some work")
    sigterm_at = time.monotonic()
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=15) == 0, (tmp_path / "a.log").read_text()[-2000:]
    assert time.monotonic() - sigterm_at < 10, "drain must finish within the drain timeout"
    stats = queue.stats()
    assert stats.in_flight == 0, "unstarted messages must be given back at once, in-flight ones finished"
    assert stats.waiting + len(rows(log, "finished")) == 30, "nothing lost"
    assert len(rows(log, "attempts")) == len(rows(log, "finished")), "in-flight work was cut off"

    second = start_agent(env, tmp_path / "b.log")
    try:
        wait_until(lambda: settled(queue), 25, "the second agent to take over the rest at once")
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=15) == 0
    assert Counter(rows(log, "finished")) == Counter(bodies), "every job finished exactly once"
    assert Counter(rows(log, "attempts")) == Counter(bodies), "no finished work was redelivered"


def test_drain_that_outlasts_the_timeout_exits_non_zero_on_time(tmp_path: Path) -> None:
    queue = SqliteBackend(tmp_path / "queue.db")
    queue.send(b"endless")
    log = tmp_path / "runs.db"
    env = agent_env(
        tmp_path / "queue.db",
        extra={
            contract.HANDLER: "tests.runtime.handlers:slow_handler",
            contract.DRAIN_TIMEOUT: 1,
            "RUNTIME_TEST_LOG": log,
            "DRAIN_TEST_SECONDS": 60,
        },
    )
    agent = start_agent(env, tmp_path / "a.log")
    wait_until(lambda: len(rows(log, "attempts")) == 1, 30, "the handler to start")
    sigterm_at = time.monotonic()
    agent.send_signal(signal.SIGTERM)
    assert agent.wait(timeout=15) == 1
    assert time.monotonic() - sigterm_at < 1 + 5, "exit at the drain timeout (+ one long poll at most)"


class NoticeAfter(TerminationWatcher):
    """A watcher whose cloud announces termination after `delay` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.events: list[str] = []

    def start(self, on_terminate: Callable[[], None]) -> None:
        self.events.append("start")
        threading.Timer(self.delay, on_terminate).start()

    def stop(self) -> None:
        self.events.append("stop")

    def on_drained(self) -> None:
        self.events.append("drained")


def test_termination_notice_drains_then_tells_the_watcher(tmp_path: Path) -> None:
    queue = SqliteBackend(tmp_path / "queue.db", visibility_timeout=30)
    queue.send_many([b"a", b"b", b"c", b"d"])
    done: list[bytes] = []

    def handle(message: Message, ctx: Context) -> None:
        time.sleep(0.4)
        done.append(message.body)

    run = make_worker(queue, handle, visibility_timeout=30)
    watcher = NoticeAfter(0.2)
    code = run_until_drained(run.worker, watcher)
    assert code == EXIT_CLEAN
    assert watcher.events == ["start", "drained", "stop"]
    assert len(done) == 1, "the notice came during the first message: only it finishes"
    assert queue.stats().in_flight == 0 and queue.stats().waiting == 3, "the rest were given back at once"
