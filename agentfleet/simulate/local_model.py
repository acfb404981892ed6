"""The local target's model: the local fleet's own autoscaler (`LocalAutoscaler`), not a copy.

The local fleet (agentfleet/local/autoscaler.py) reads the SQLite queue's exact counts every
`tick_seconds` and asks `LocalAutoscaler.decide`; the simulator does the same with its own counts.
What stands in for real processes are the timings below, measured on this machine from
`agentfleet local demo` (the supervisor's start / drain events and the agents' logs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.schema import FleetConfig
from agentfleet.components.simulation import AgentLifecycle, FleetView, LifecycleBoot
from agentfleet.local.scaling import LocalAutoscaler


@dataclass(frozen=True)
class LocalTimings:
    """Measured on this machine from `agentfleet local demo` (docs/simulate.md, "local")."""

    #: The autoscaler loop's interval (agentfleet/local/demo.py DemoOptions.tick_seconds).
    tick_seconds: float = 0.5
    #: `Popen` -> the agent runtime consuming: interpreter start + imports of `python -m
    #: agentfleet.agent run` (demo runs: first message about 1.2 s after the start event).
    process_start_seconds: float = 1.2
    #: SIGTERM to an idle agent -> the supervisor reaps it (demo runs: 'drain' -> 'drained' 3.0 s).
    exit_seconds: float = 3.0
    #: Per message beyond the handler's sleep: SQLite receive and delete (demo runs: 117-120
    #: messages/s from 6 agents x 8 slots of 0.4 s, i.e. 0.40-0.41 s per message).
    message_overhead_seconds: float = 0.01


class LocalModel(LifecycleBoot):
    def __init__(
        self, config: FleetConfig, policy: ScalingPolicy, timings: LocalTimings | None = None
    ) -> None:
        self.timings = timings or LocalTimings()
        self.scaler = LocalAutoscaler(policy)
        self.next_tick = 0.0
        self.capacity = policy.min_agents
        self.lifecycle = AgentLifecycle.from_policy(
            policy,
            boot_median_seconds=self.timings.process_start_seconds,
            boot_sigma=0.0,
            exit_seconds=self.timings.exit_seconds,
            # The supervisor drains only agents whose /metrics says they are not protected
            # (AGENTFLEET_PROTECTION=local: busy, no idle grace), warming ones first, then the
            # youngest; when every agent is busy the surplus waits (agentfleet/local/supervisor.py).
            protects_busy_agents=True,
            lease_seconds=float(config.queue.visibility_timeout_seconds),
            message_overhead_seconds=self.timings.message_overhead_seconds,
        )

    def step(self, view: FleetView) -> int:
        if view.t + 1e-9 < self.next_tick:
            return view.capacity
        self.next_tick = (
            math.floor(view.t / self.timings.tick_seconds + 1e-9) * self.timings.tick_seconds
            + self.timings.tick_seconds
        )
        # Like the autoscaler loop (agentfleet/local/autoscaler.py), `current` is the desired
        # capacity it last set, not the agents alive: busy agents a scale-in holds back do not make
        # it decide again.
        return self.scaler.decide(view.t, view.waiting, view.in_flight, view.capacity)


def model(config: FleetConfig, policy: ScalingPolicy) -> LocalModel:
    return LocalModel(config, policy)
