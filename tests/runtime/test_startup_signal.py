"""SIGTERM while the agent is still starting (importing the handler, opening the backend) is a
clean exit 0 before the first receive, not death by the default signal handler (issue 15,
finding 10)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from agentfleet.agent import contract
from agentfleet.agent.backends.sqlite import SqliteBackend
from tests.runtime.harness import agent_env, start_agent, wait_until

pytestmark = pytest.mark.slow


def test_sigterm_during_start_up_is_a_clean_exit_before_the_first_receive(tmp_path: Path) -> None:
    queue = SqliteBackend(tmp_path / "queue.db")
    queue.send(b"untouched")
    marker, release = tmp_path / "importing", tmp_path / "release"
    env = agent_env(
        tmp_path / "queue.db",
        extra={
            contract.HANDLER: "tests.runtime.startup_handler:handle",
            "STARTUP_TEST_MARKER": marker,
            "STARTUP_TEST_RELEASE": release,
        },
    )
    agent = start_agent(env, tmp_path / "agent.log")
    try:
        wait_until(marker.exists, 60, "the agent to start importing its handler")
        agent.send_signal(signal.SIGTERM)
        release.touch()
        code = agent.wait(timeout=60)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    assert code == 0, (tmp_path / "agent.log").read_text()[-2000:]
    stats = queue.stats()
    assert (stats.waiting, stats.in_flight) == (1, 0), "nothing received"
