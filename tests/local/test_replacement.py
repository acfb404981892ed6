"""A crashed or unhealthy agent is replaced; a SIGKILLed agent's work comes back and is done once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agentfleet.local import sample_agent
from agentfleet.local.autoscaler import AutoscalerLoop
from agentfleet.local.chaos import Chaos
from agentfleet.local.demo import DemoOptions, run_demo
from agentfleet.local.stack import LocalPaths
from agentfleet.local.store import open_local_bucket, open_local_state, open_queue
from agentfleet.local.supervisor import AgentStartupError, AgentState, Supervisor
from tests.local.helpers import tiny_config
from tests.runtime.fakes import stuck_agent

pytestmark = pytest.mark.slow


def wait_for(predicate: Callable[[], bool], supervisor: Supervisor, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; agents: {supervisor.agents}, exits: {supervisor.exits}")
        supervisor.poll()
        time.sleep(0.1)


def test_a_sigkilled_agent_is_replaced_and_its_leased_work_is_done_exactly_once(paths: LocalPaths) -> None:
    config = tiny_config(
        agent={"concurrency": 4},
        scaling={"max_agents": 1, "warmup_seconds": 0},
        queue={"visibility_timeout_seconds": 2},
    )
    queue, state, bucket = (
        open_queue(config, paths),
        open_local_state(config, paths),
        open_local_bucket(config, paths),
    )
    tasks = sample_agent.make_tasks(bucket, 12)
    supervisor = Supervisor(config, paths, extra_env={sample_agent.WORK_SECONDS_ENV: "0.5"})
    loop = AutoscalerLoop(supervisor, queue.stats, interval=0.2)
    try:
        queue.send_many(t.body() for t in tasks)
        loop.tick()
        victim = next(iter(supervisor.agents.values()))
        # Kill it while it holds leases: wait until it has taken work.
        wait_for(lambda: queue.stats().in_flight > 0, supervisor)
        supervisor.kill(victim)
        victim.process.wait(timeout=5)
        assert victim.process.returncode == -signal.SIGKILL
        loop.tick()
        assert [(e.id, e.reason) for e in supervisor.exits] == [(victim.id, "crashed")]
        assert len(supervisor.agents) == 1 and victim.id not in supervisor.agents  # replaced at once
        assert loop.run(lambda s: s.backlog == 0, timeout=30)
    finally:
        supervisor.stop_all()
    audit = sample_agent.audit_effects(state, tasks)
    assert (audit.done, audit.duplicates, audit.missing, audit.wrong_units) == (12, 0, [], 0)


STUCK_AGENT = Path(stuck_agent.__file__)


def test_an_agent_whose_healthz_fails_is_killed_and_replaced(paths: LocalPaths) -> None:
    config = tiny_config(scaling={"max_agents": 1, "warmup_seconds": 0})
    supervisor = Supervisor(
        config, paths, command=(sys.executable, str(STUCK_AGENT)), scrape_metrics=False, health_interval=0.2
    )
    try:
        supervisor.scale_to(1)
        first = next(iter(supervisor.agents.values()))
        wait_for(lambda: first.state is AgentState.READY, supervisor)
        wait_for(lambda: any(e.reason == "unhealthy" for e in supervisor.exits), supervisor)
        assert [e.id for e in supervisor.exits] == [first.id]
        assert first.process.returncode == -signal.SIGKILL
        assert len(supervisor.agents) == 1 and first.id not in supervisor.agents
    finally:
        supervisor.stop_all(timeout=2)


def test_agents_that_never_start_stop_the_fleet_with_their_log(paths: LocalPaths) -> None:
    config = tiny_config(agent={"handler": "no_such_module:handle"}, scaling={"max_agents": 1})
    supervisor = Supervisor(config, paths, max_startup_failures=2)
    try:
        supervisor.scale_to(1)
        with pytest.raises(AgentStartupError, match="AGENTFLEET_HANDLER|no_such_module"):
            wait_for(lambda: False, supervisor)
    finally:
        supervisor.stop_all(timeout=2)


def test_chaos_kills_only_working_agents_and_the_demo_still_loses_nothing(tmp_path: Path) -> None:
    # Every kill takes leased work, and each costs those messages a delivery: a receive limit far
    # above the kills this burst can see keeps the assertion about loss, not about dead-lettering.
    config = tiny_config(queue={"visibility_timeout_seconds": 2, "max_receive_count": 100})
    opts = DemoOptions(
        config=config,
        out=tmp_path,
        tasks=120,
        work_seconds=0.1,
        period_seconds=1.0,
        lead_in_seconds=0.5,
        chaos=True,
        chaos_every_seconds=1.0,
        tick_seconds=0.25,
        live=False,
    )
    result = run_demo(opts)
    r = result.report
    assert r.agents_killed_by_chaos >= 1
    assert any(e.reason == "crashed" for e in result.exits)
    assert (r.lost, r.duplicate_effects, r.done) == (0, 0, 120)


def test_chaos_waits_for_a_ready_agent(paths: LocalPaths) -> None:
    supervisor = Supervisor(tiny_config(), paths)
    chaos = Chaos(supervisor, every_seconds=0.0)
    assert chaos.maybe_strike(now=100.0) is None  # nobody to kill: no agent at all
    assert chaos.kills == []


class _Agent:
    """An agent as chaos sees it: a READY agent whose /metrics reports `in_flight` handlers."""

    def __init__(self, agent_id: int, in_flight: float) -> None:
        self.id = agent_id
        self.in_flight = in_flight
        self.state = AgentState.READY
        agent = self

        class Metrics(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                body = f"agentfleet_messages_in_flight {agent.in_flight}\n".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Metrics)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class _Fleet:
    """What chaos needs of a supervisor: its agents, and kill()."""

    def __init__(self, *agents: _Agent) -> None:
        self.agents = {a.id: a for a in agents}
        self.killed: list[int] = []

    def kill(self, agent: _Agent) -> None:
        self.killed.append(agent.id)


def test_chaos_strikes_the_first_agent_seen_holding_work_not_on_a_clock() -> None:
    idle, busy = _Agent(1, 0), _Agent(2, 0)
    fleet = _Fleet(idle, busy)
    chaos = Chaos(fleet, every_seconds=1.0)  # type: ignore[arg-type]
    try:
        for now in (0.0, 10.0, 1000.0):  # however late: nobody holds work, nobody is killed
            assert chaos.maybe_strike(now) is None
        busy.in_flight = 2
        assert chaos.maybe_strike(1000.001) == busy.id, "the moment an agent holds work, not a gap later"
        assert fleet.killed == [busy.id]
        assert chaos.maybe_strike(1000.002) is None, "the next kill waits its gap"
    finally:
        idle.server.shutdown()
        busy.server.shutdown()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux-only")
def test_agents_do_not_outlive_a_killed_supervisor(tmp_path: Path) -> None:
    (tmp_path / "fleet.yaml").write_text(
        "config:\n  agentfleet:fleet:\n    name: tiny-fleet\n    agent: {image: x/y:1, handler: m:f}\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from agentfleet.local.stack import LocalPaths, load_fleet
            from agentfleet.local.supervisor import Supervisor
            config = load_fleet(None, Path({str(tmp_path / "fleet.yaml")!r}))
            paths = LocalPaths(Path({str(tmp_path)!r}))
            s = Supervisor(config, paths, command=(sys.executable, {str(STUCK_AGENT)!r}))
            s.scale_to(1)
            print(next(iter(s.agents.values())).pid, flush=True)
            time.sleep(60)
        """)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert parent.stdout is not None
    agent_pid = int(parent.stdout.readline())
    parent.kill()
    parent.wait(timeout=5)
    deadline = time.monotonic() + 10
    while True:
        try:
            os.kill(agent_pid, 0)
        except ProcessLookupError:
            break
        # Reparented to init (or a subreaper); a zombie would still answer kill(0), so check /proc.
        status = Path(f"/proc/{agent_pid}/status")
        if status.exists() and "State:\tZ" in status.read_text():
            break
        assert time.monotonic() < deadline, f"agent {agent_pid} outlived its supervisor"
        time.sleep(0.1)
