"""The cloud-neutral scaling policy: every scaling number, computed once from the config.

Each target only *translates* a `ScalingPolicy` into its own resources (a target tracking policy,
an autoscale setting, a ScaledObject); the local fleet *runs* it through `LocalAutoscaler`
(agentfleet/local/scaling.py). Keeping the arithmetic here is what makes "the same config behaves
the same on every cloud" a property we can test in one place.

The model is backlog per agent: the fleet aims for `target_backlog_per_agent` messages per agent
that counts, where the backlog is the messages waiting *plus* the ones being worked on. Counting
in-flight messages decides how many agents the fleet needs; which agent goes on a scale-in is the
platform's choice, so busy agents protect themselves (docs/DESIGN.md, "Busy agents").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from agentfleet.components.schema import FleetConfig

#: Seconds between two metric samples the clouds' autoscalers look at (every supported cloud's
#: monitoring service publishes queue metrics at one-minute granularity).
METRIC_PERIOD_SECONDS = 60

#: Extra time the platform waits beyond the agent's own drain timeout before killing it, so the
#: agent can finish its last ack, flush logs and tell the platform it is done.
SHUTDOWN_MARGIN_SECONDS = 30

#: How soon after a scale-out the autoscaler may scale out again. Short, because a burst should be
#: met quickly; warm-up (not this cooldown) keeps a new agent from being counted too early.
SCALE_OUT_COOLDOWN_SECONDS = 60


@dataclass(frozen=True)
class ScalingPolicy:
    """The numbers every cloud is configured from; all durations in seconds."""

    min_agents: int
    max_agents: int
    target_backlog_per_agent: int
    concurrency: int
    warmup_seconds: int
    scale_in_cooldown_seconds: int
    scale_out_cooldown_seconds: int
    drain_timeout_seconds: int
    shutdown_grace_seconds: int
    health_check_grace_seconds: int
    metric_period_seconds: int = METRIC_PERIOD_SECONDS
    #: Messages waiting that start the first agent when the fleet is at zero. The ratio
    #: backlog / agents has no value at zero agents, so every cloud needs this separate path.
    scale_from_zero_threshold: int = 1

    @classmethod
    def from_config(cls, config: FleetConfig) -> ScalingPolicy:
        s, a = config.scaling, config.agent
        return cls(
            min_agents=s.min_agents,
            max_agents=s.max_agents,
            target_backlog_per_agent=s.target_backlog_per_agent,
            concurrency=a.concurrency,
            warmup_seconds=s.warmup_seconds,
            scale_in_cooldown_seconds=s.scale_in_cooldown_seconds,
            scale_out_cooldown_seconds=min(SCALE_OUT_COOLDOWN_SECONDS, max(s.warmup_seconds, 1)),
            drain_timeout_seconds=a.drain_timeout_seconds,
            shutdown_grace_seconds=a.drain_timeout_seconds + SHUTDOWN_MARGIN_SECONDS,
            health_check_grace_seconds=s.warmup_seconds,
        )

    @property
    def scales_to_zero(self) -> bool:
        return self.min_agents == 0

    def desired_agents(self, waiting: int, in_flight: int) -> int:
        """How many agents the backlog calls for, within [min_agents, max_agents].

        `waiting` are messages visible in the queue, `in_flight` those leased by agents.
        """
        backlog = max(waiting, 0) + max(in_flight, 0)
        if backlog == 0:
            return self.min_agents
        wanted = math.ceil(backlog / self.target_backlog_per_agent)
        if waiting >= self.scale_from_zero_threshold:
            wanted = max(wanted, 1)
        return max(self.min_agents, min(self.max_agents, wanted))

    def backlog_per_agent(self, waiting: int, in_flight: int, counted_agents: int) -> float | None:
        """The metric the clouds track: None when no agent counts (the ratio is undefined)."""
        if counted_agents <= 0:
            return None
        return (max(waiting, 0) + max(in_flight, 0)) / counted_agents
