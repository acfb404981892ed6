"""The crash tests: `agentfleet agent run` processes on the SQLite backend, SIGKILLed again and
again while they hold work, and restarted.

- issue #3: 5,000 messages with an idempotent side effect (a put-if-absent), an agent killed
  every 100 settled messages: every effect applied exactly once, none lost, the 10 poison
  messages dead-lettered with their reason.
- issue 15: an effect that is NOT idempotent (an append to a file outside the state store, guarded
  only by ctx.once), several messages per key, poison messages, and a lease shorter than some
  effects: every key's effect is applied, and applied again only where the agent that applied it
  was killed before it could mark it done."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from agentfleet.agent import contract
from agentfleet.agent.backends.sqlite import SqliteBackend
from agentfleet.agent.state.sqlite import SqliteStateStore
from tests.runtime.harness import agent_env, start_agent, terminate_when_started

pytestmark = pytest.mark.slow

MESSAGES = 5000
AGENTS = 3
MAX_RECEIVE_COUNT = 5
#: An agent is killed once the fleet has settled this many messages since the last kill (and at
#: most once a second). Kills on a clock alone outpaced a loaded CI machine: a respawned agent,
#: slow to start, took the messages the last victim left and died before running them, five
#: times over, and four good messages were dead-lettered, as a broker must do with a message
#: whose consumers keep dying. Paced by the work, every kill still lands on work in flight.
WORK_BETWEEN_KILLS = 100


def drained_after_a_second(queue: SqliteBackend, deadline: float) -> bool:
    """Wait a second; True once nothing is waiting or in flight (fails past `deadline`)."""
    time.sleep(1.0)
    stats = queue.stats()
    if stats.waiting == 0 and stats.in_flight == 0:
        return True
    assert time.monotonic() < deadline, f"not done in time: {stats}"
    return False


def crash_env(tmp_path: Path, handler: str, *, concurrency: int, extra: dict[str, object]) -> dict[str, str]:
    """The agents' environment: the queue and state in `tmp_path`, a 2 s lease, 10 s drain."""
    settings: dict[str, object] = {
        contract.HANDLER: handler,
        contract.CONCURRENCY: concurrency,
        contract.VISIBILITY_TIMEOUT: 2,
        contract.MAX_RECEIVE_COUNT: MAX_RECEIVE_COUNT,
        contract.DRAIN_TIMEOUT: 10,
    }
    return agent_env(tmp_path / "queue.db", tmp_path / "state.db", extra={**settings, **extra})


def test_sigkill_while_working_loses_nothing_and_applies_every_effect_once(tmp_path: Path) -> None:
    queue = SqliteBackend(tmp_path / "queue.db", max_receive_count=MAX_RECEIVE_COUNT)
    good = [f"job-{i}" for i in range(MESSAGES)]
    poison = [f"permanent-poison-{i}" for i in range(5)] + [f"failing-poison-{i}" for i in range(5)]
    queue.send_many(b.encode() for b in good[:2500] + poison + good[2500:])
    log = tmp_path / "runs.db"
    env = crash_env(
        tmp_path,
        "tests.runtime.handlers:crash_handler",
        concurrency=2,
        extra={
            "RUNTIME_TEST_LOG": log,
            # ~8 s of work for 3 agents x 2 threads, so every kill lands on messages in flight
            "CRASH_TEST_WORK_SECONDS": 0.01,
        },
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    started = 0

    def spawn() -> tuple[subprocess.Popen[bytes], Path]:
        nonlocal started
        started += 1
        log = logs / f"agent-{started}.log"
        return start_agent(env, log), log

    agents = [spawn() for _ in range(AGENTS)]
    kills = 0
    deadline = time.monotonic() + 85
    settled_at_last_kill = 0
    try:
        while not drained_after_a_second(queue, deadline):
            stats = queue.stats()
            settled = len(good) + len(poison) - stats.waiting - stats.in_flight
            if settled - settled_at_last_kill < WORK_BETWEEN_KILLS:
                continue
            settled_at_last_kill = settled
            victim = kills % AGENTS
            agents[victim][0].send_signal(signal.SIGKILL)
            agents[victim][0].wait(timeout=10)
            kills += 1
            agents[victim] = spawn()
    finally:
        for agent, agent_log in agents:
            terminate_when_started(agent, agent_log)
        codes = [agent.wait(timeout=20) for agent, _ in agents]
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


KEYS = 60
COPIES = 3


def test_a_non_idempotent_effect_guarded_by_ctx_once_runs_again_only_after_its_agent_was_killed(
    tmp_path: Path,
) -> None:
    queue = SqliteBackend(tmp_path / "queue.db", max_receive_count=MAX_RECEIVE_COUNT)
    keys = [f"long-{i}" if i % 10 == 0 else f"key-{i}" for i in range(KEYS)]
    bodies = [f"{key}#{copy}" for copy in range(COPIES) for key in keys]  # copies far apart
    poison = [f"permanent-poison-{i}" for i in range(3)] + [f"failing-poison-{i}" for i in range(3)]
    queue.send_many(b.encode() for b in bodies[:90] + poison + bodies[90:])
    log = tmp_path / "effects.log"
    env = crash_env(  # the 2 s lease is shorter than the long effects
        tmp_path,
        "tests.runtime.append_handler:append_handler",
        concurrency=4,
        extra={
            "APPEND_TEST_LOG": log,
            "APPEND_TEST_SECONDS": 0.2,
            "APPEND_TEST_LONG_SECONDS": 5,  # two and a half leases
        },
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    paths = [logs / f"agent-{i}.log" for i in range(AGENTS)]
    agents = [start_agent(env, path) for path in paths]
    killed: set[int] = set()
    deadline = time.monotonic() + 120
    try:
        while not drained_after_a_second(queue, deadline):
            if queue.stats().in_flight == 0 or len(killed) >= 6:
                continue  # kill only an agent that can be holding work, and not forever
            victim = len(killed) % AGENTS
            agents[victim].send_signal(signal.SIGKILL)
            agents[victim].wait(timeout=10)
            killed.add(agents[victim].pid)
            paths[victim] = logs / f"agent-{len(killed) + AGENTS}.log"
            agents[victim] = start_agent(env, paths[victim])
    finally:
        for agent, path in zip(agents, paths, strict=True):
            terminate_when_started(agent, path)
        codes = [agent.wait(timeout=30) for agent in agents]
    assert codes == [0] * AGENTS, "the survivors drain cleanly"
    assert len(killed) >= 3, "the test must actually kill agents"

    appended: dict[str, list[int]] = defaultdict(list)
    for line in log.read_text().splitlines():
        key, pid = line.split()
        appended[key].append(int(pid))
    assert set(appended) == set(keys), "every key's effect applied, none lost"
    for key, pids in appended.items():
        # Only an agent killed between its append and its "done" mark can cause a second append.
        assert all(pid in killed for pid in pids[:-1]), f"{key} applied by live agents {pids}"
    repeats = sum(len(p) - 1 for p in appended.values())
    print(f"append crash test: {len(killed)} kills, {repeats} effects re-applied after a kill")

    state = SqliteStateStore(tmp_path / "state.db")
    for key in keys:
        item = state.get(f"once:{key}")
        assert item is not None and item.value["status"] == "done", key
    dead = {d.body.decode(): d.reason for d in queue.dead_letters()}
    assert set(dead) == set(poison), {b: r for b, r in dead.items() if b not in poison}
    for body in poison[:3]:
        assert dead[body] == f"PermanentError: {body} cannot be processed"
    for body in poison[3:]:
        assert f"max_receive_count={MAX_RECEIVE_COUNT}" in dead[body]
