"""The one ground truth: a scenario replayed on the real local fleet (real agent processes).

`make demo` measures its own burst (agentfleet/local/demo.py); this runs any local scenario's
arrivals the same way: the same Supervisor, AutoscalerLoop and sample agent, with the scenario's
messages sent tick by tick. It reports what the simulator predicts, measured the demo's way
(agent-seconds = every agent process's lifetime; drain from the samples).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agentfleet.components.schema import FleetConfig
from agentfleet.local import sample_agent
from agentfleet.local.autoscaler import AutoscalerLoop, Sample
from agentfleet.local.stack import LocalPaths
from agentfleet.local.store import open_local_bucket, open_queue
from agentfleet.local.supervisor import Supervisor
from agentfleet.simulate.metrics import drained_at
from agentfleet.simulate.scenarios import Scenario

SAMPLE_HANDLER = "agentfleet.local.sample_agent:handle"


@dataclass(frozen=True)
class Measured:
    drain_seconds: float
    agent_seconds: float
    window_seconds: float
    tasks: int
    agents_started: int = 0
    #: (t, waiting, in_flight, agents) per autoscaler tick.
    samples: tuple[tuple[float, int, int, int], ...] = ()


def run_local(config: FleetConfig, scenario: Scenario, out: Path, tick_seconds: float = 0.5) -> Measured:
    """Replay `scenario` on real local agents; never leaves a process behind."""
    paths = LocalPaths(out / "state")
    if paths.root.exists():
        shutil.rmtree(paths.root)
    paths.create()
    queue = open_queue(config, paths)
    bucket = open_local_bucket(config, paths)
    tasks = sample_agent.make_tasks(bucket, scenario.tasks)
    bodies = iter(t.body() for t in tasks)
    work = str(scenario.durations.median_seconds)
    supervisor = Supervisor(
        config, paths, handler=SAMPLE_HANDLER, extra_env={sample_agent.WORK_SECONDS_ENV: work}
    )
    loop = AutoscalerLoop(supervisor, queue.stats, interval=tick_seconds)
    cumulative = np.cumsum(scenario.arrivals)
    sent = 0

    def send(sample: Sample) -> None:
        nonlocal sent
        i = min(len(cumulative) - 1, int(loop.elapsed() / scenario.dt))
        due = int(cumulative[i])
        if due > sent:
            queue.send_many(next(bodies) for _ in range(due - sent))
            sent = due

    def finished(sample: Sample) -> bool:
        return (
            sent == scenario.tasks
            and sample.t >= scenario.seconds
            and sample.backlog == 0
            and sample.agents == 0
        )

    try:
        loop.run(finished, scenario.seconds + scenario.tail_seconds, on_tick=send)
        end = supervisor.clock()
        agent_seconds = supervisor.agent_seconds(end)
    finally:
        supervisor.stop_all()
        queue.close()
        bucket.close()
    s = loop.samples
    t = np.array([x.t for x in s])
    drained = drained_at(t, np.array([x.waiting for x in s]), np.array([x.backlog for x in s]), scenario)
    start = scenario.burst[0] if scenario.burst else 0.0
    return Measured(
        drain_seconds=float("inf") if drained is None else drained - start,
        agent_seconds=agent_seconds,
        window_seconds=end - loop.started_at,
        tasks=sent,
        agents_started=len(supervisor.exits) + len(supervisor.agents),
        samples=tuple((x.t, x.waiting, x.in_flight, x.agents) for x in s),
    )
