"""A model of the autoscale setting providers/azure/scaling.py configures, for `agentfleet simulate`.

Pure (no SDK). Azure Monitor autoscale evaluates the profile's rules on the Service Bus metric
ActiveMessages (time grain PT1M, time window PT5M), every `evaluation_seconds`:

| rule | value | fires when | action |
| --- | --- | --- | --- |
| backlog-high | average over the window / instance count | > target | +1 |
| backlog-burst | the same | > 2 x target | +100 % |
| backlog-low | maximum over the window / instance count | < target | -1 |

The scale set never has fewer than one agent (capacity minimum max(min_agents, 1), settings.py
`fewest_agents`): the lifecycle's `fewest_agents` tells the simulator, which starts the fleet
there. So no per-instance rule ever divides by zero instances. Busy agents protect themselves
from scale-in (protectFromScaleIn), so a scale-in removes idle agents only.

Scale-out: any rule fires, the largest count wins. Scale-in: only when no scale-out rule fires,
and only if the flapping estimate (every scale-out rule's value recomputed for one instance
fewer) would not fire a scale-out rule. After an action, nothing happens until the cooldown of
the rule that fired it has passed. Sources in docs/simulate.md ("Azure").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from agentfleet.agent.contract import PROTECTION_IDLE_GRACE_SECONDS
from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.schema import FleetConfig
from agentfleet.components.simulation import (
    AgentLifecycle,
    FleetView,
    LifecycleBoot,
    MetricSeries,
    action_counts,
)
from agentfleet.providers.azure import settings


@dataclass(frozen=True)
class AzureTimings:
    """Seconds; sources in docs/simulate.md ("Azure")."""

    #: The autoscale engine runs every 30-60 s.
    evaluation_seconds: float = 60.0
    #: Time grain PT1M and time window PT5M (scaling.py TIME_GRAIN, TIME_WINDOW).
    grain_seconds: float = 60.0
    window_seconds: float = 300.0
    #: ActiveMessages reaches autoscale 2-4 minutes after the minute it describes.
    metric_delay_seconds: float = 180.0
    #: VM create -> agent consuming: provisioning, cloud-init, Docker, image pull.
    boot_median_seconds: float = 180.0
    boot_sigma: float = 0.25
    #: After the agent approves the terminate notification, until the VM stops billing.
    terminate_seconds: float = 60.0
    #: Busy agents protect themselves from scale-in (AGENTFLEET_PROTECTION=azure-vmss).
    protects_busy_agents: bool = True
    #: An agent stays protected this long after its last message (the runtime's idle grace,
    #: agent/contract.py), so a trickle does not flip it per message.
    protection_idle_grace_seconds: float = PROTECTION_IDLE_GRACE_SECONDS


class AzureModel(LifecycleBoot):
    def __init__(
        self, config: FleetConfig, policy: ScalingPolicy, timings: AzureTimings | None = None
    ) -> None:
        tm = self.timings = timings or AzureTimings()
        self.policy = policy
        self.fewest = settings.fewest_agents(policy)
        self.active_messages = MetricSeries(tm.grain_seconds, tm.metric_delay_seconds, stat="mean")
        self.next_eval = 0.0
        self.blocked_until = -math.inf
        # The cooldowns scaling.py configures: the policy's scale-out one, the config's scale-in one.
        self.out_cooldown = settings.cooldown_seconds(policy.scale_out_cooldown_seconds)
        self.in_cooldown = settings.cooldown_seconds(config.scaling.scale_in_cooldown_seconds)
        self.actions = {
            "backlog-high": 0,
            "backlog-burst": 0,
            "backlog-low": 0,
            "flapping-held": 0,
        }
        self.lifecycle = AgentLifecycle.from_policy(
            policy,
            boot_median_seconds=tm.boot_median_seconds,
            boot_sigma=tm.boot_sigma,
            exit_seconds=tm.terminate_seconds,
            protects_busy_agents=tm.protects_busy_agents,
            protection_idle_grace_seconds=tm.protection_idle_grace_seconds,
            lease_seconds=float(settings.lock_duration_seconds(config)),
            fewest_agents=self.fewest,
        )

    def scale_out(self, avg: float, n: int) -> tuple[int, str] | None:
        """The largest count any scale-out rule asks for with `n` (>= 1) instances (None: none fires)."""
        target = self.policy.target_backlog_per_agent
        each = avg / n
        wanted: list[tuple[int, str]] = []
        if each > target:
            wanted.append((n + 1, "backlog-high"))
        if each > 2 * target:
            wanted.append((2 * n, "backlog-burst"))  # +100 %
        # The largest count wins; on a tie the rule listed first.
        return max(wanted, key=lambda w: w[0]) if wanted else None

    def step(self, view: FleetView) -> int:
        tm, p = self.timings, self.policy
        # ActiveMessages counts messages waiting and locked by agents.
        self.active_messages.record(view.t, view.waiting + view.in_flight)
        if view.t + 1e-9 < self.next_eval:
            return view.capacity
        self.next_eval = view.t + tm.evaluation_seconds
        if view.t < self.blocked_until:
            return view.capacity
        window = self.active_messages.latest(view.t, int(tm.window_seconds // tm.grain_seconds))
        if not window:
            return view.capacity
        avg, peak = sum(window) / len(window), max(window)
        n = max(view.capacity, self.fewest)
        out = self.scale_out(avg, n)
        if out is not None:
            count, rule = out
            count = min(p.max_agents, count)
            if count > n:
                self.actions[rule] += 1
                self.blocked_until = view.t + self.out_cooldown
                return count
            return n  # a scale-out rule fires: no scale-in rule is evaluated
        if n > self.fewest and peak / n < p.target_backlog_per_agent:
            # Flapping: would one instance fewer make a scale-out rule fire at once?
            if self.scale_out(avg, n - 1) is not None:
                self.actions["flapping-held"] += 1
                return n
            self.actions["backlog-low"] += 1
            self.blocked_until = view.t + self.in_cooldown
            return n - 1
        return n

    def extra(self) -> dict[str, float]:
        return action_counts(self.actions)


def model(config: FleetConfig, policy: ScalingPolicy) -> AzureModel:
    return AzureModel(config, policy)
