"""A model of what providers/aws/scaling.py configures, for `agentfleet simulate`.

Pure (no SDK): the same `ScalingPolicy` that `pulumi up` turns into

1. target tracking on (visible + not visible) / GroupInServiceInstances at target_backlog_per_agent:
   CloudWatch raises the scale-out alarm after `scale_out_datapoints` one-minute datapoints above
   the target, the scale-in alarm after `scale_in_datapoints` below `scale_in_ratio` x target;
   the policy then sets capacity to ceil(backlog / target) (never below the current capacity
   on a scale-out);
2. the from-zero alarm (min_agents 0 only): one datapoint of `visible` >= scale_from_zero_threshold
   with no agent in service sets the exact capacity ceil(visible / target), at most
   `from_zero_steps` (scaling.py FROM_ZERO_STEPS).

Every timing is a field of `AwsTimings`, with its source in docs/simulate.md.
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
    #: scaling.py FROM_ZERO_STEPS: the from-zero step policy starts at most this many agents.
    from_zero_steps: int = 10
    #: Launch -> agent consuming: EC2 pending -> running, AL2023 boot, Docker install, image pull.
    boot_median_seconds: float = 150.0
    boot_sigma: float = 0.25
    #: After the lifecycle hook is completed, until the instance stops billing.
    terminate_seconds: float = 30.0
    #: Busy agents protect themselves from scale-in (AGENTFLEET_PROTECTION=aws-asg).
    protects_busy_agents: bool = True


class AwsModel(LifecycleBoot):
    def __init__(self, config: FleetConfig, policy: ScalingPolicy, timings: AwsTimings | None = None) -> None:
        tm = self.timings = timings or AwsTimings()
        self.policy = policy
        self.backlog = MetricSeries(tm.metric_period_seconds, tm.metric_delay_seconds, stat="last")
        self.visible = MetricSeries(tm.metric_period_seconds, tm.metric_delay_seconds, stat="last")
        # GroupInServiceInstances: one-minute Average, published with the same delay.
        self.in_service = MetricSeries(tm.metric_period_seconds, tm.metric_delay_seconds, stat="mean")
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
        self.visible.record(view.t, waiting)
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
        # The from-zero alarm, one datapoint: IF(FILL(agents, 0) == 0, FILL(visible, 0), 0) >= threshold.
        # While it stays in ALARM the step policy sets the same exact capacity again.
        if p.scales_to_zero and (not agents or agents[-1] == 0):
            vis = self.visible.latest(view.t, 1)
            if vis and vis[-1] >= p.scale_from_zero_threshold:
                wanted = max(
                    1, min(p.max_agents, tm.from_zero_steps, math.ceil(vis[-1] / p.target_backlog_per_agent))
                )
                if wanted != capacity:
                    self.actions["from-zero"] += 1
                return wanted
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

    def extra(self) -> dict[str, float]:
        return action_counts(self.actions)


def model(config: FleetConfig, policy: ScalingPolicy) -> AwsModel:
    return AwsModel(config, policy)
