"""A model of what providers/aws/scaling.py configures, for `agentfleet simulate`.

Pure (no SDK): the same `ScalingPolicy` that `pulumi up` turns into

1. target tracking on (visible + not visible) / GroupInServiceInstances at target_backlog_per_agent:
   CloudWatch raises the scale-out alarm after `scale_out_datapoints` one-minute datapoints above
   the target, the scale-in alarm after `scale_in_datapoints` below `scale_in_ratio` x target;
   the policy then sets capacity to ceil(backlog / target) (never below the current capacity
   on a scale-out);
2. the from-zero alarm (min_agents 0 only) on IF(FILL(desired, 0) == 0, FILL(visible, 0), 0) >=
   scale_from_zero_threshold, one-minute Maximum of `visible` and of GroupDesiredCapacity, in
   FROM_ZERO_ALARM_M of the last FROM_ZERO_ALARM_N datapoints (missing data not breaching). While
   it is in ALARM, CloudWatch invokes the step policy at every evaluation; the policy *adds* the
   step's agents for the newest datapoint (`capacity_from_zero`: ceil(visible / target), at most
   FROM_ZERO_STEPS) and never lowers capacity. Agents it added within its estimated instance
   warm-up (`from_zero_warmup_seconds`) are not current capacity, so a repeated invocation in the
   same step adds nothing and a higher step adds only the difference.

Busy agents set instance scale-in protection, so a scale-in removes idle agents only and waits
while every agent is busy (the simulator's `protects_busy_agents`).

Every timing is a field of `AwsTimings`, with its source in docs/simulate.md.
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
from agentfleet.providers.aws.settings import (
    FROM_ZERO_ALARM_M,
    FROM_ZERO_ALARM_N,
    capacity_from_zero,
    from_zero_warmup_seconds,
)


@dataclass(frozen=True)
class AwsTimings:
    """Seconds unless named otherwise; sources in docs/simulate.md ("AWS")."""

    #: SQS pushes its queue metrics to CloudWatch once a minute.
    metric_period_seconds: float = 60.0
    #: A minute's datapoint is readable this long after the minute ends.
    metric_delay_seconds: float = 60.0
    #: A queue with no activity this long is inactive; its metrics then resume only after
    #: `wake_delay_seconds` ("up to 15 minutes").
    inactive_after_seconds: float = 6 * 3600.0
    wake_delay_seconds: float = 900.0
    #: How long the queue had been inactive when the trace starts (0: in use until then).
    idle_before_seconds: float = 0.0
    #: CloudWatch evaluates alarms once a minute.
    alarm_evaluation_seconds: float = 60.0
    #: Target tracking's alarms: 3 of 3 one-minute datapoints to scale out, 15 of 15 to scale in.
    scale_out_datapoints: int = 3
    scale_in_datapoints: int = 15
    #: Target tracking's scale-in alarm sits this far under the target.
    scale_in_ratio: float = 0.9
    #: The from-zero alarm: M of the last N one-minute datapoints (scaling.py FROM_ZERO_ALARM_M/_N).
    from_zero_datapoints: int = FROM_ZERO_ALARM_M
    from_zero_evaluation_periods: int = FROM_ZERO_ALARM_N
    #: Launch -> agent consuming: EC2 pending -> running, AL2023 boot, Docker install, image pull.
    boot_median_seconds: float = 150.0
    boot_sigma: float = 0.25
    #: After the lifecycle hook is completed, until the instance stops billing.
    terminate_seconds: float = 30.0
    #: Busy agents protect themselves from scale-in (AGENTFLEET_PROTECTION=aws-asg).
    protects_busy_agents: bool = True
    #: An agent stays protected this long after its last message (the runtime's idle grace,
    #: agent/contract.py), so a trickle does not flip it per message.
    protection_idle_grace_seconds: float = PROTECTION_IDLE_GRACE_SECONDS


class AwsModel(LifecycleBoot):
    def __init__(self, config: FleetConfig, policy: ScalingPolicy, timings: AwsTimings | None = None) -> None:
        tm = self.timings = timings or AwsTimings()
        self.policy = policy
        self.backlog = MetricSeries(tm.metric_period_seconds, tm.metric_delay_seconds, stat="last")
        # GroupInServiceInstances: one-minute Average, published with the same delay.
        self.in_service = MetricSeries(tm.metric_period_seconds, tm.metric_delay_seconds, stat="mean")
        # The from-zero alarm's inputs: one-minute Maximum of visible and of GroupDesiredCapacity.
        self.visible_max = MetricSeries(tm.metric_period_seconds, tm.metric_delay_seconds, stat="max")
        self.desired = MetricSeries(tm.metric_period_seconds, tm.metric_delay_seconds, stat="max")
        self.from_zero_warmup = float(from_zero_warmup_seconds(policy))
        #: (when, agents) of every from-zero step, for its estimated instance warm-up.
        self.from_zero_added: list[tuple[float, int]] = []
        self.next_eval = 0.0
        self.last_active = -tm.idle_before_seconds
        self.asleep_until = -math.inf
        self.actions = {"target-tracking-out": 0, "target-tracking-in": 0, "from-zero": 0}
        self.lifecycle = AgentLifecycle.from_policy(
            policy,
            boot_median_seconds=tm.boot_median_seconds,
            boot_sigma=tm.boot_sigma,
            exit_seconds=tm.terminate_seconds,
            protects_busy_agents=tm.protects_busy_agents,
            protection_idle_grace_seconds=tm.protection_idle_grace_seconds,
            lease_seconds=float(config.queue.visibility_timeout_seconds),
        )

    def _record(self, view: FleetView) -> None:
        tm = self.timings
        busy = view.waiting + view.in_flight > 0
        if busy and view.t - self.last_active > tm.inactive_after_seconds:
            # An inactive queue wakes up: its metrics resume only after the wake delay.
            self.asleep_until = view.t + tm.wake_delay_seconds
        if busy:
            self.last_active = view.t
        if view.t < self.asleep_until:
            # No datapoint: the alarms see missing data (treat_missing_data notBreaching).
            waiting = in_flight = math.nan
        else:
            waiting, in_flight = view.waiting, view.in_flight
        self.backlog.record(view.t, waiting + in_flight)
        self.visible_max.record(view.t, waiting)
        # GroupDesiredCapacity: what the model set, published like the queue's metrics.
        self.desired.record(view.t, view.capacity)
        # GroupInServiceInstances: warmed-up instances (default instance warm-up).
        self.in_service.record(view.t, view.ready)

    def step(self, view: FleetView) -> int:
        self._record(view)
        if view.t + 1e-9 < self.next_eval:
            return view.capacity
        tm, p = self.timings, self.policy
        self.next_eval = view.t + tm.alarm_evaluation_seconds
        capacity = view.capacity
        n = max(tm.scale_out_datapoints, tm.scale_in_datapoints)
        backlog = self.backlog.latest(view.t, n)
        agents = self.in_service.latest(view.t, n)
        if p.scales_to_zero:
            added = self._from_zero(view)
            if added:
                self.actions["from-zero"] += 1
                self.from_zero_added.append((view.t, added))
                return capacity + added
        # Target tracking: a datapoint with no agent in service has no ratio (missing data).
        # Only the unbroken run of newest datapoints with agents in service counts.
        ratios: list[float] = []
        for b, a in zip(reversed(backlog), reversed(agents), strict=False):
            if not a > 0 or math.isnan(b):
                break
            ratios.insert(0, b / a)
        target = p.target_backlog_per_agent
        out = ratios[-tm.scale_out_datapoints :]
        if len(out) == tm.scale_out_datapoints and all(r > target for r in out):
            wanted = min(p.max_agents, math.ceil(backlog[-1] / target))
            if wanted > capacity:
                self.actions["target-tracking-out"] += 1
                return wanted
        low = ratios[-tm.scale_in_datapoints :]
        if len(low) == tm.scale_in_datapoints and all(r < tm.scale_in_ratio * target for r in low):
            wanted = max(p.min_agents, math.ceil(backlog[-1] / target))
            if wanted < capacity:
                self.actions["target-tracking-in"] += 1
                return wanted
        return capacity

    def from_zero_alarm(self, now: float) -> bool:
        """IF(FILL(desired, 0) == 0, FILL(visible, 0), 0) >= threshold in M of the last N datapoints
        (a missing datapoint is not breaching)."""
        tm, p = self.timings, self.policy
        n = tm.from_zero_evaluation_periods
        visible, desired = self.visible_max.latest(now, n), self.desired.latest(now, n)
        breaching = sum(
            1
            for v, d in zip(visible, desired, strict=True)
            if d == 0 and not math.isnan(v) and v >= p.scale_from_zero_threshold
        )
        return breaching >= tm.from_zero_datapoints

    def _from_zero(self, view: FleetView) -> int:
        """Agents the from-zero step policy adds at this evaluation (0: none)."""
        if not self.from_zero_alarm(view.t):
            return 0
        newest = self.visible_max.latest(view.t, 1)
        if not newest or math.isnan(newest[-1]):
            return 0
        step = capacity_from_zero(self.policy, int(newest[-1]))
        if step is None:
            return 0  # in ALARM, but the newest datapoint is in no step
        # "While scaling out, we do not consider instances that are warming up as part of the
        # current capacity of the group" (EC2 Auto Scaling, step scaling): the agents this policy
        # added within its warm-up already count toward the step, so only a higher step adds more.
        warming = sum(n for at, n in self.from_zero_added if view.t - at < self.from_zero_warmup)
        return max(0, step - warming)

    def extra(self) -> dict[str, float]:
        return action_counts(self.actions)


def model(config: FleetConfig, policy: ScalingPolicy) -> AwsModel:
    return AwsModel(config, policy)
