"""A model of the autoscale setting providers/azure/scaling.py configures, for `agentfleet simulate`.

Pure (no SDK). Azure Monitor autoscale evaluates the profile's rules on the Service Bus metric
ActiveMessages (time grain PT1M, time window PT5M), every `evaluation_seconds`:

| rule | value | fires when | action |
| --- | --- | --- | --- |
| backlog-high | average over the window / instance count | > target | +1 |
| backlog-burst | the same | > 2 x target | +100 % |
| start-backstop (min 0) | average of the queue total over the window | > max_agents x target | +1 |
| backlog-low | maximum over the window / instance count | < target | -1 |

At zero instances a per-instance value divides by zero, and Azure does not document what it does
then: `zero_instance_divisor` says (None: the per-instance rules cannot fire, so only the
start-backstop starts a fleet at zero; 1: Azure divides by one instance). Busy agents protect
themselves from scale-in (protectFromScaleIn), so a scale-in removes idle agents only.

Scale-out: any rule fires, the largest count wins. Scale-in: only when no scale-out rule fires,
and only if the flapping estimate (every scale-out rule's value recomputed for one instance
fewer) would not fire a scale-out rule. After an action, nothing happens until the cooldown of
the rule that fired it has passed. Sources in docs/simulate.md ("Azure").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    #: agent/protection/base.py DEFAULT_IDLE_GRACE_SECONDS), so a trickle does not flip it per message.
    protection_idle_grace_seconds: float = 30.0
    #: What a per-instance rule divides by at zero instances (undocumented by Azure). None: the
    #: per-instance rules cannot fire at zero, docs/azure.md's conservative reading ("Scaling from
    #: zero"); 1: Azure divides by one instance, so backlog-high starts an agent above `target`.
    zero_instance_divisor: int | None = None


class AzureModel(LifecycleBoot):
    def __init__(
        self, config: FleetConfig, policy: ScalingPolicy, timings: AzureTimings | None = None
    ) -> None:
        tm = self.timings = timings or AzureTimings()
        self.policy = policy
        self.active_messages = MetricSeries(tm.grain_seconds, tm.metric_delay_seconds, stat="mean")
        self.next_eval = 0.0
        self.blocked_until = -math.inf
        # scaling.py: out cooldown max(1 minute, whole minutes of scale_out_cooldown); in from the config.
        self.out_cooldown = max(
            settings.AUTOSCALE_COOLDOWN_MIN_SECONDS, settings.whole_minutes(policy.scale_out_cooldown_seconds)
        )
        in_seconds = settings.whole_minutes(config.scaling.scale_in_cooldown_seconds)
        self.in_cooldown = max(settings.AUTOSCALE_COOLDOWN_MIN_SECONDS, in_seconds)
        self.actions = {
            "backlog-high": 0,
            "backlog-burst": 0,
            "start-backstop": 0,
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
        )

    def per_instance(self, value: float, n: int) -> float | None:
        """A per-instance rule's value with `n` instances (None: the rule cannot fire)."""
        divisor = n if n > 0 else self.timings.zero_instance_divisor
        return None if divisor is None else value / divisor

    def scale_out(self, avg: float, n: int) -> tuple[int, str] | None:
        """The largest count any scale-out rule asks for with `n` instances (None: none fires)."""
        p = self.policy
        target = p.target_backlog_per_agent
        wanted: list[tuple[int, str]] = []
        each = self.per_instance(avg, n)
        if each is not None and each > target:
            wanted.append((n + 1, "backlog-high"))
        if each is not None and each > 2 * target:
            wanted.append((2 * n, "backlog-burst"))  # +100 %
        if p.scales_to_zero and avg > p.max_agents * target:
            wanted.append((n + 1, "start-backstop"))
        # The largest count wins; on a tie the rule listed first (the per-instance ones).
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
        n = view.capacity
        out = self.scale_out(avg, n)
        if out is not None:
            count, rule = out
            count = min(p.max_agents, count)
            if count > n:
                self.actions[rule] += 1
                self.blocked_until = view.t + self.out_cooldown
                return count
            return n  # a scale-out rule fires: no scale-in rule is evaluated
        if n > p.min_agents and peak / n < p.target_backlog_per_agent:
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
