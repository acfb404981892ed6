"""The crash test (issue #3): three `agentfleet agent run` processes on the SQLite backend consume
5,000 messages with an idempotent side effect while one agent is SIGKILLed every second and
restarted. At the end every message's effect is applied exactly once, none is lost, and the 10
poison messages sit in the dead-letter queue with their reason."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from agentfleet.agent import contract
from agentfleet.agent.backends.sqlite import SqliteBackend
from agentfleet.agent.state.sqlite import SqliteStateStore
from tests.runtime.harness import agent_env, start_agent

pytestmark = pytest.mark.slow

MESSAGES = 5000
AGENTS = 3
MAX_RECEIVE_COUNT = 5


def test_sigkill_every_second_loses_nothing_and_applies_every_effect_once(tmp_path: Path) -> None:
    queue = SqliteBackend(tmp_path / "queue.db", max_receive_count=MAX_RECEIVE_COUNT)
    good = [f"job-{i}" for i in range(MESSAGES)]
    poison = [f"permanent-poison-{i}" for i in range(5)] + [f"failing-poison-{i}" for i in range(5)]
    queue.send_many(b.encode() for b in good[:2500] + poison + good[2500:])
    log = tmp_path / "runs.db"
    env = agent_env(
        tmp_path / "queue.db",
        tmp_path / "state.db",
        extra={
            contract.HANDLER: "tests.runtime.handlers:crash_handler",
            contract.CONCURRENCY: 2,
            contract.VISIBILITY_TIMEOUT: 2,
            contract.MAX_RECEIVE_COUNT: MAX_RECEIVE_COUNT,
            contract.DRAIN_TIMEOUT: 10,
            "RUNTIME_TEST_LOG": log,
            # ~8 s of work for 3 agents x 2 threads, so every kill lands on messages in flight
            "CRASH_TEST_WORK_SECONDS": 0.01,
        },
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    started = 0

    def spawn() -> subprocess.Popen[bytes]:
        nonlocal started
        started += 1
        return start_agent(env, logs / f"agent-{started}.log")

    agents = [spawn() for _ in range(AGENTS)]
    kills = 0
    deadline = time.monotonic() + 85
    try:
        while True:
            time.sleep(1.0)
            stats = queue.stats()
            if stats.waiting == 0 and stats.in_flight == 0:
                break
            assert time.monotonic() < deadline, f"not done in time: {stats}"
            victim = kills % AGENTS
            agents[victim].send_signal(signal.SIGKILL)
            agents[victim].wait(timeout=10)
            kills += 1
            agents[victim] = spawn()
    finally:
        for agent in agents:
            agent.send_signal(signal.SIGTERM)
        codes = [agent.wait(timeout=20) for agent in agents]
    assert codes == [0] * AGENTS, "the survivors drain cleanly"
    assert kills >= 5, "the test must actually kill agents"

    # None lost, every effect applied exactly once: one put-if-absent record per message, never
    # rewritten (version 1), and nothing else in the effect namespace.
    state = SqliteStateStore(tmp_path / "state.db")
    for body in good:
        item = state.get(f"effect:{body}")
        assert item is not None, f"{body} lost"
        assert item.version == 1, f"{body}'s effect applied {item.version} times"
    conn = sqlite3.connect(tmp_path / "state.db")
    effects = conn.execute("SELECT COUNT(*) FROM state WHERE key LIKE 'effect:%'").fetchone()[0]
    done_sql = "SELECT COUNT(*) FROM state WHERE key LIKE 'once:%' AND value LIKE '%done%'"
    done = conn.execute(done_sql).fetchone()[0]
    assert effects == MESSAGES
    assert done == MESSAGES

    # The kills really caused redeliveries, which ctx.once absorbed.
    attempts = Counter(r[0] for r in sqlite3.connect(log).execute("SELECT body FROM attempts"))
    assert set(attempts) == set(good) | set(poison)
    redelivered = sum(1 for b in good if attempts[b] > 1)
    print(f"crash test: {kills} kills, {redelivered} messages ran more than once, effects applied once")
    assert redelivered > 0, "no message was redelivered: the kills hit nothing"

    # The poison messages, and only they, are dead letters with their reason.
    dead = {d.body.decode(): d.reason for d in queue.dead_letters()}
    assert set(dead) == set(poison)
    for body in poison[:5]:
        assert dead[body] == f"PermanentError: {body} cannot be processed"
    for body in poison[5:]:
        assert f"max_receive_count={MAX_RECEIVE_COUNT}" in dead[body]
        assert f"ValueError: {body} always fails" in dead[body] or "without being settled" in dead[body]
