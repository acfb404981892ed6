"""The figures a run is judged by, computed from the engine's per-tick record.

- drain: from the burst's first message until it is worked off (`drained_at`);
- message age: queue wait, from arrival to the moment an agent takes the message, per delivery;
- first-agent delay: work arrives while no agent runs -> the first agent takes work (each such
  cold start is one episode; the first and the worst are reported);
- cost: agent-seconds billed (from the request until the agent is gone, boot and drain included)
  against the perfect-provisioning lower bound (the handler time of every message, packed into
  `concurrency` slots per agent: no boot, no idle slot) and against always-on at max_agents.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from agentfleet.simulate.engine import Run
from agentfleet.simulate.scenarios import Scenario


def drained_at(t: np.ndarray, waiting: np.ndarray, backlog: np.ndarray, scenario: Scenario) -> float | None:
    """When the scenario's burst counts as drained: for a single burst (`demo`) the backlog
    (waiting + in flight) is empty, as `make demo` measures it; under continuing traffic, no
    message is waiting any more. None when it never happens, or the scenario has no burst."""
    if scenario.burst is None:
        return None
    start, end = scenario.burst
    single = start == end
    series = backlog if single else waiting
    after = np.flatnonzero((t >= end + (scenario.dt if single else 0.0)) & (series == 0))
    return None if not len(after) else float(t[after[0]])


def _percentile(hist: np.ndarray, bin_seconds: float, q: float) -> float:
    total = hist.sum()
    if total == 0:
        return 0.0
    k = int(np.searchsorted(np.cumsum(hist), q * total))
    return k * bin_seconds


def cold_starts(run: Run) -> list[float]:
    """Delay of each cold start: work arrived with no agent running -> an agent runs."""
    running = run.running > 0
    arrived = (run.arrivals > 0) & ~running
    delays: list[float] = []
    i = 0
    up = np.flatnonzero(running)
    starts = np.flatnonzero(arrived)
    while True:
        later = starts[starts >= i]
        if not len(later):
            break
        first = int(later[0])
        k = int(np.searchsorted(up, first))
        if k == len(up):
            delays.append(float("inf"))
            break
        delays.append(float(run.t[up[k]] - run.t[first]))
        i = int(up[k]) + 1
        # skip to when the fleet is back at zero
        down = np.flatnonzero(~running[i:])
        if not len(down):
            break
        i += int(down[0])
    return delays


@dataclass(frozen=True)
class Metrics:
    scenario: str
    tasks: int
    completed: int
    dead_lettered: int
    window_seconds: float
    drain_seconds: float | None
    age_p50_seconds: float
    age_p95_seconds: float
    age_max_seconds: float
    first_agent_delay_seconds: float | None
    worst_first_agent_delay_seconds: float | None
    cold_starts: int
    agent_seconds: float
    lower_bound_agent_seconds: float
    always_on_max_agent_seconds: float
    peak_agents: int
    scale_out_events: int
    scale_in_events: int
    agents_started: int
    interrupted_agents: int
    interrupted_messages: int

    @property
    def agent_hours(self) -> float:
        return self.agent_seconds / 3600

    @property
    def cost_ratio(self) -> float:
        """Agent-seconds over the perfect-provisioning lower bound (1.0 is perfect)."""
        return (
            self.agent_seconds / self.lower_bound_agent_seconds
            if self.lower_bound_agent_seconds
            else float("inf")
        )

    @property
    def always_on_ratio(self) -> float:
        return self.agent_seconds / self.always_on_max_agent_seconds

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = asdict(self)
        d.update(
            agent_hours=self.agent_hours, cost_ratio=self.cost_ratio, always_on_ratio=self.always_on_ratio
        )
        return d


def measure(run: Run) -> Metrics:
    sc = run.scenario
    drained = drained_at(run.t, run.waiting, run.backlog, sc)
    colds = cold_starts(run)
    steps = np.diff(run.capacity, prepend=run.min_agents)
    return Metrics(
        scenario=sc.name,
        tasks=sc.tasks,
        completed=run.completed,
        dead_lettered=run.dead_lettered,
        window_seconds=run.duration,
        drain_seconds=None if drained is None or sc.burst is None else drained - sc.burst[0],
        age_p50_seconds=_percentile(run.age_hist, run.age_bin, 0.5),
        age_p95_seconds=_percentile(run.age_hist, run.age_bin, 0.95),
        age_max_seconds=run.age_max,
        first_agent_delay_seconds=colds[0] if colds else None,
        worst_first_agent_delay_seconds=max(colds) if colds else None,
        cold_starts=len(colds),
        agent_seconds=run.agent_seconds,
        lower_bound_agent_seconds=run.work_seconds / run.concurrency,
        always_on_max_agent_seconds=run.max_agents * run.duration,
        peak_agents=int(run.agents.max()) if len(run.t) else 0,
        scale_out_events=int(np.count_nonzero(steps > 0)),
        scale_in_events=int(np.count_nonzero(steps < 0)),
        agents_started=run.agents_started,
        interrupted_agents=run.interrupted_agents,
        interrupted_messages=run.interrupted_messages,
    )
