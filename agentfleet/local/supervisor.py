"""Real agent processes on this machine, kept at the number the autoscaler asks for.

Each agent is `python -m agentfleet agent run` — the same runtime the clouds run — with the env
contract pointing at the fleet's SQLite files and a port of its own. The supervisor does what an
Auto Scaling group / scale set / Deployment does for the clouds:

- a new agent is *warming* until its `/ready` answers 200; only then does it count as *ready*;
- scale-in sends SIGTERM and lets the agent drain (it finishes in-flight work and exits 0);
  an agent still alive after the shutdown grace is killed, as the clouds do;
- busy agents are protected from scale-in, as on the clouds (docs/DESIGN.md, "Busy agents"): each
  agent runs with AGENTFLEET_PROTECTION=local and reports `agentfleet_protected` on /metrics; a
  scale-in drains only agents that report 0, and when every agent is busy the surplus waits until
  one goes idle (the desired capacity stays lowered, like an Auto Scaling group's). With
  `protection=False` the supervisor picks the youngest agents, busy or not, as a cloud's default
  termination policy does; a drained agent that was still working is counted as interrupted;
- an agent that exits without being asked (a crash, SIGKILL) or whose `/healthz` fails
  `unhealthy_after` times in a row once its warm-up is over is replaced at once.

The supervisor never decides how many agents there should be: `scale_to(n)` comes from the
autoscaler, which runs the shared scaling policy.
"""

from __future__ import annotations

import ctypes
import enum
import http.client
import itertools
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from prometheus_client.parser import text_string_to_metric_families

from agentfleet.agent import contract
from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.schema import FleetConfig
from agentfleet.local.stack import LocalPaths, local_environment, python_path_with
from agentfleet.ports import free_port

#: The runtime's counter of handled messages (agent/middleware/metrics.py), read for the live throughput.
SUCCEEDED_METRIC = "agentfleet_messages_succeeded"
#: Handlers running now (agent/middleware/metrics.py) and the scale-in protection flag
#: (agent/protection/base.py), read to choose scale-in victims and to count interruptions.
IN_FLIGHT_METRIC = "agentfleet_messages_in_flight"
PROTECTED_METRIC = "agentfleet_protected"
#: The runtime's log line when its drain ran out of time (agent/worker.py), with `unfinished`.
DRAIN_TIMED_OUT_EVENT = "drain timed out"

#: The agent command: the runtime's own `agentfleet agent run` (agent/__main__.py), run by this
#: interpreter without the root CLI, so an agent does not import the operator's tools (Pulumi,
#: matplotlib) and starts in a fraction of the time — start-up is part of every scale-out.
AGENT_COMMAND: tuple[str, ...] = (sys.executable, "-m", "agentfleet.agent", "run")


#: prctl(2) option: the signal a child gets when its parent dies.
PR_SET_PDEATHSIG = 1


class AgentStartupError(RuntimeError):
    """Agents keep dying before they are ready: the environment or the handler is wrong."""

    def __init__(self, failures: int, log: Path) -> None:
        tail = ""
        try:
            tail = "\n".join(log.read_text(errors="replace").strip().splitlines()[-15:])
        except OSError:
            pass
        super().__init__(
            f"{failures} agents in a row exited before becoming ready; last log ({log}):\n{tail}"
        )
        self.log = log


class AgentState(enum.Enum):
    WARMING = "warming"
    READY = "ready"
    DRAINING = "draining"


@dataclass
class Agent:
    """One agent process and what the supervisor knows about it."""

    id: int
    port: int
    process: subprocess.Popen[bytes]
    started_at: float
    log: IO[bytes]
    state: AgentState = AgentState.WARMING
    ready_at: float | None = None
    drain_started_at: float | None = None
    health_failures: int = 0
    health_checked_at: float = float("-inf")
    #: Messages this agent reports as succeeded on /metrics (last value scraped).
    succeeded: float = 0.0
    #: Handlers running, per the last /metrics read (what a drain cut short would interrupt).
    in_flight: float = 0.0
    #: Protected from scale-in, per the last /metrics read (`agentfleet_protected`).
    protected: bool = False
    #: Why it is draining: "scale-in" (the autoscaler) or "stop" (the fleet is shutting down).
    drained_for: str = ""

    @property
    def pid(self) -> int:
        return self.process.pid


@dataclass(frozen=True)
class AgentExit:
    """An agent that is gone: for the report's agent-seconds and the event log."""

    id: int
    started_at: float
    ended_at: float
    returncode: int | None
    succeeded: float
    #: "drained" (asked to stop, exited), "crashed" (exited unasked), "unhealthy" (killed by the
    #: supervisor after failing /healthz), "drain-timeout" (killed after the shutdown grace).
    reason: str
    #: Handlers a scale-in cut short: still running when the agent's drain timed out or it was killed.
    interrupted: int = 0


@dataclass
class FleetCounts:
    warming: int = 0
    ready: int = 0
    draining: int = 0
    #: Warming or ready agents protected from scale-in (busy), per their last /metrics read.
    protected: int = 0

    @property
    def active(self) -> int:
        """Agents that will take work, warming or ready (above the desired capacity while busy
        agents hold back a scale-in)."""
        return self.warming + self.ready


def _die_with_supervisor() -> None:
    """In the child, before exec (Linux): SIGTERM me when the supervisor dies, so an agent never
    outlives a `local up` that was killed — it drains like any scale-in instead of consuming on."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))


#: What reading an agent's HTTP endpoint can raise when the agent is not (or no longer) answering:
#: refused or reset connections (OSError), timeouts, and an agent that exits mid-answer, which
#: leaves a short body (`http.client.IncompleteRead`, an HTTPException and not an OSError).
UNREADABLE = (urllib.error.URLError, OSError, ValueError, http.client.HTTPException)


def probe(port: int, path: str, timeout: float) -> bool:
    """True when http://127.0.0.1:port/path answers 2xx within `timeout` seconds."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as resp:
            return 200 <= int(resp.status) < 300
    except UNREADABLE:
        return False


def metrics_text(port: int, timeout: float) -> str | None:
    """The agent's /metrics page, or None if it cannot be read."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as resp:
            return str(resp.read().decode("utf-8", errors="replace"))
    except UNREADABLE:
        return None


@dataclass(frozen=True)
class AgentMetrics:
    """What the supervisor reads from one agent's /metrics."""

    succeeded: float | None
    in_flight: float
    protected: bool


def scrape(port: int, timeout: float) -> AgentMetrics | None:
    """The agent's counters and protection flag from /metrics, or None if it cannot be read."""
    text = metrics_text(port, timeout)
    if text is None:
        return None
    values: dict[str, float] = {}
    try:
        for family in text_string_to_metric_families(text):
            if family.name in (SUCCEEDED_METRIC, IN_FLIGHT_METRIC, PROTECTED_METRIC):
                counted = [s for s in family.samples if s.name.endswith("_total") or s.name == family.name]
                values[family.name] = sum(s.value for s in counted)
    except ValueError:  # a page cut short by the agent's exit
        return None
    return AgentMetrics(
        succeeded=values.get(SUCCEEDED_METRIC),
        in_flight=values.get(IN_FLIGHT_METRIC, 0.0),
        protected=values.get(PROTECTED_METRIC, 0.0) > 0,
    )


def unfinished_at_drain_timeout(log: Path) -> int | None:
    """`unfinished` from the agent's "drain timed out" log line (its own count of handlers it cut
    short), or None if the log has no such line (the agent was killed before it could write it)."""
    try:
        lines = log.read_text(errors="replace").splitlines()[-200:]
    except OSError:
        return None
    for line in reversed(lines):
        if DRAIN_TIMED_OUT_EVENT not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") == DRAIN_TIMED_OUT_EVENT:
            return int(record.get("unfinished", 0))
    return None


@dataclass
class Supervisor:
    """Starts, watches, drains and replaces the local agent processes."""

    config: FleetConfig
    paths: LocalPaths
    handler: str | None = None
    command: Sequence[str] = AGENT_COMMAND
    #: Extra environment for every agent (the demo's simulated work time, for example).
    extra_env: dict[str, str] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    probe_timeout: float = 2.0
    #: Seconds between two /healthz checks of one agent; `unhealthy_after` failures in a row get
    #: it replaced. (/ready of a warming agent is checked every poll, to count it promptly.)
    health_interval: float = 2.0
    #: Read each agent's /metrics for the live throughput (off in tests that do not need it).
    scrape_metrics: bool = True
    #: Busy agents are protected from scale-in (AGENTFLEET_PROTECTION=local); False reproduces a
    #: busy-blind termination policy (`local demo --no-protection`).
    protection: bool = True
    #: The capacity the autoscaler last asked for; agents above it are drained as they go idle.
    desired_capacity: int = 0
    unhealthy_after: int = 3
    agents: dict[int, Agent] = field(default_factory=dict)
    exits: list[AgentExit] = field(default_factory=list)
    events: list[tuple[float, str, int]] = field(default_factory=list)
    #: Agents that die before ever being ready, in a row, before the fleet gives up: a handler
    #: that cannot be imported would otherwise be restarted forever.
    max_startup_failures: int = 5
    _startup_failures: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=8))

    def __post_init__(self) -> None:
        self.policy = ScalingPolicy.from_config(self.config)
        self.paths.create()
        # Fail before starting anything if the handler is missing: one message, not N crashed agents.
        local_environment(self.config, self.paths, 0, self.handler)

    # -- counting -------------------------------------------------------------------------------
    def counts(self) -> FleetCounts:
        c = FleetCounts()
        for a in self.agents.values():
            c.protected += a.protected and a.state is not AgentState.DRAINING
            if a.state is AgentState.WARMING:
                c.warming += 1
            elif a.state is AgentState.READY:
                c.ready += 1
            else:
                c.draining += 1
        return c

    def agent_seconds(self, now: float | None = None) -> float:
        """Process-seconds of every agent so far, warming and draining included: what a cloud bills."""
        now = self.clock() if now is None else now
        done = sum(e.ended_at - e.started_at for e in self.exits)
        return done + sum(now - a.started_at for a in self.agents.values())

    @property
    def interrupted_by_scale_in(self) -> int:
        """Handlers cut short by a scale-in drain, fleet-wide (0 while protection holds)."""
        return sum(e.interrupted for e in self.exits)

    def processed(self) -> float:
        """Messages succeeded fleet-wide per the agents' own /metrics (gone agents: last value seen)."""
        return sum(e.succeeded for e in self.exits) + sum(a.succeeded for a in self.agents.values())

    # -- scaling --------------------------------------------------------------------------------
    def scale_to(self, desired: int) -> None:
        """Set the desired capacity (within min/max); start or drain agents toward it.

        Called every tick: a surplus that protection held back is drained as its agents go idle."""
        desired = max(self.policy.min_agents, min(self.policy.max_agents, desired))
        self.desired_capacity = desired
        active = [a for a in self.agents.values() if a.state is not AgentState.DRAINING]
        for _ in range(desired - len(active)):
            self._start()
        surplus = len(active) - desired
        if surplus <= 0:
            return
        candidates = self._removable(active) if self.protection else active
        # Warming agents first (they do not count as capacity yet), then the youngest ready ones.
        victims = sorted(candidates, key=lambda a: (a.state is AgentState.READY, -a.started_at))
        for agent in victims[:surplus]:
            self.drain(agent, why="scale-in")

    def _removable(self, active: list[Agent]) -> list[Agent]:
        """Agents whose /metrics says they are not protected, read now (not at the last poll), so
        an agent that took work a moment ago is not drained. An agent that cannot be read is
        treated as protected: not knowing is no licence to interrupt it."""
        read = list(self._pool.map(lambda a: scrape(a.port, self.probe_timeout), active))
        removable = []
        for agent, metrics in zip(active, read, strict=True):
            if metrics is not None:
                agent.in_flight, agent.protected = metrics.in_flight, metrics.protected
                if not metrics.protected:
                    removable.append(agent)
        return removable

    def _start(self) -> Agent:
        agent_id = next(self._ids)
        port = free_port()
        env = dict(os.environ)
        env.update(local_environment(self.config, self.paths, port, self.handler))
        env.update(self.extra_env)
        env[contract.PROTECTION] = "local" if self.protection else "none"
        env["PYTHONPATH"] = python_path_with(Path.cwd())
        log = open(self.paths.logs / f"agent-{agent_id}.log", "ab")  # closed when the agent is reaped
        process = subprocess.Popen(
            list(self.command),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Ctrl-C in the terminal reaches only the supervisor, which then drains agents itself.
            start_new_session=True,
            preexec_fn=_die_with_supervisor,
        )
        agent = Agent(id=agent_id, port=port, process=process, started_at=self.clock(), log=log)
        self.agents[agent_id] = agent
        self._event("start", agent)
        return agent

    def drain(self, agent: Agent, why: str = "scale-in") -> None:
        """Scale-in (or stop): SIGTERM, then the agent finishes its in-flight work and exits by itself."""
        if agent.state is AgentState.DRAINING:
            return
        agent.state = AgentState.DRAINING
        agent.drained_for = why
        agent.drain_started_at = self.clock()
        self._signal(agent, signal.SIGTERM)
        self._event("drain", agent)

    def kill(self, agent: Agent) -> None:
        """SIGKILL, as a crash would: used by chaos and for agents past their shutdown grace."""
        self._signal(agent, signal.SIGKILL)

    def _signal(self, agent: Agent, sig: signal.Signals) -> None:
        try:
            agent.process.send_signal(sig)
        except ProcessLookupError:
            pass

    # -- watching -------------------------------------------------------------------------------
    def poll(self) -> None:
        """Reap exited agents (replacing crashed ones), promote warmed-up ones, health-check the rest."""
        now = self.clock()
        replace = 0
        for agent in list(self.agents.values()):
            code = agent.process.poll()
            if code is None:
                if (
                    agent.state is AgentState.DRAINING
                    and agent.drain_started_at is not None
                    and now - agent.drain_started_at > self.policy.shutdown_grace_seconds
                ):
                    self.kill(agent)
                    self._reap(agent, now, "drain-timeout")
                continue
            if agent.state is AgentState.DRAINING:
                self._reap(agent, now, "drained")
                continue
            self._reap(agent, now, "crashed")
            replace += 1
            if agent.ready_at is None:
                self._startup_failures += 1
                if self._startup_failures >= self.max_startup_failures:
                    raise AgentStartupError(self._startup_failures, self.paths.logs / f"agent-{agent.id}.log")
        self._probe_all(now)
        for agent in list(self.agents.values()):
            if agent.health_failures >= self.unhealthy_after and agent.state is AgentState.READY:
                self.kill(agent)
                agent.process.wait(timeout=5)
                self._reap(agent, self.clock(), "unhealthy")
                replace += 1
        for _ in range(replace):
            self._start()

    def _probe_all(self, now: float) -> None:
        warming = [a for a in self.agents.values() if a.state is AgentState.WARMING]
        # Like the clouds' health-check grace: /healthz is only judged once warm-up is over.
        grace = self.policy.health_check_grace_seconds
        due = [
            a
            for a in self.agents.values()
            if a.state is AgentState.READY
            and now - a.started_at >= grace
            and now - a.health_checked_at >= self.health_interval
        ]
        for a in due:
            a.health_checked_at = now
        checks = [(a, "/ready") for a in warming] + [(a, "/healthz") for a in due]
        results = list(self._pool.map(lambda c: probe(c[0].port, c[1], self.probe_timeout), checks))
        if self.scrape_metrics:
            counting = [a for a in self.agents.values() if a.state is not AgentState.WARMING]
            scraped = self._pool.map(lambda a: scrape(a.port, self.probe_timeout), counting)
            for agent, metrics in zip(counting, scraped, strict=True):
                if metrics is None:
                    continue
                agent.in_flight, agent.protected = metrics.in_flight, metrics.protected
                if metrics.succeeded is not None:
                    agent.succeeded = max(agent.succeeded, metrics.succeeded)
        for (agent, path), ok in zip(checks, results, strict=True):
            if agent.state is AgentState.DRAINING or agent.process.poll() is not None:
                continue
            if path == "/ready" and ok:
                self._startup_failures = 0
                agent.state = AgentState.READY
                agent.ready_at = self.clock()
                self._event("ready", agent)
            elif path == "/healthz":
                agent.health_failures = 0 if ok else agent.health_failures + 1

    def _reap(self, agent: Agent, now: float, reason: str) -> None:
        self.agents.pop(agent.id, None)
        agent.log.close()
        interrupted = self._interrupted(agent, reason) if agent.drained_for == "scale-in" else 0
        code, done = agent.process.returncode, agent.succeeded
        self.exits.append(AgentExit(agent.id, agent.started_at, now, code, done, reason, interrupted))
        self._event(reason, agent)

    def _interrupted(self, agent: Agent, reason: str) -> int:
        """Handlers a scale-in drain cut short: none after a clean exit; else the agent's own count
        ("drain timed out", unfinished=N), or, if it was killed first, what it last reported running."""
        if reason == "drained" and agent.process.returncode == 0:
            return 0
        unfinished = unfinished_at_drain_timeout(self.paths.logs / f"agent-{agent.id}.log")
        return unfinished if unfinished is not None else int(agent.in_flight)

    def _event(self, kind: str, agent: Agent) -> None:
        self.events.append((self.clock(), kind, agent.id))

    # -- stopping -------------------------------------------------------------------------------
    def stop_all(self, timeout: float | None = None) -> None:
        """Drain every agent and wait for them; kill what is left after `timeout` (default: grace)."""
        limit = self.policy.shutdown_grace_seconds if timeout is None else timeout
        for agent in list(self.agents.values()):
            self.drain(agent, why="stop")
        deadline = self.clock() + limit
        while self.agents and self.clock() < deadline:
            self.poll()
            time.sleep(0.1)
        for agent in list(self.agents.values()):
            self.kill(agent)
            agent.process.wait(timeout=5)
            self._reap(agent, self.clock(), "drain-timeout")
        self._pool.shutdown(wait=False)
