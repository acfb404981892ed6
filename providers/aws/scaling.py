"""The AWS scaling policy: capacity follows the queue's backlog per agent, from zero and back.

Two policies on the agents' Auto Scaling group, both translated from `ScalingPolicy`:

1. **Target tracking with metric math** (`{fleet}-backlog-per-agent`):

       backlog_per_agent = (ApproximateNumberOfMessagesVisible + ApproximateNumberOfMessagesNotVisible)
                           / GroupInServiceInstances

   held at `target_backlog_per_agent`. In-flight (not visible) messages count, so agents busy on
   long work are not scaled in under their feet. `GroupInServiceInstances` needs the group's
   metrics collection (compute.py). New agents are not counted before `default_instance_warmup`.
   Scale-in is target tracking's own: AWS acts only after the ratio has stayed below the target
   for 15 consecutive minutes, and EC2 Auto Scaling target tracking takes no scale-in cooldown.
   So on AWS `scale_in_cooldown_seconds` is not a setting of this policy: scale-in waits at least
   those 15 minutes whatever the config says (a shorter cooldown is not honoured; a longer one is
   not enforced). The local fleet and the other clouds apply it as configured.

2. **Scale from zero** (`{fleet}-from-zero`): the ratio has no value at zero agents, so target
   tracking can never start the first one. An alarm evaluates

       IF(FILL(desired, 0) == 0, FILL(visible, 0), 0) >= scale_from_zero_threshold

   on `GroupDesiredCapacity`, not in-service agents: desired capacity changes the moment a
   scaling activity starts, in-service only once an agent has booted, so the expression is 0
   again right after the first step instead of minutes later. It must hold in `FROM_ZERO_ALARM_M`
   of the last `FROM_ZERO_ALARM_N` minutes: CloudWatch warns that FILL in an alarm can leave it
   stuck when the latest minute has no data, so no single (late, missing) minute decides.
   The alarm drives a step policy that *adds* the agents `ScalingPolicy.desired_agents` asks for
   at zero (ceil(visible / target), one step per agent, up to `FROM_ZERO_STEPS`), as
   `ChangeInCapacity`: an alarm keeps invoking its action every period it stays in ALARM, and
   should the group metric lag while agents already run, adding can only overshoot (target
   tracking scales back in), where setting an exact capacity could pull the group below what
   target tracking set. Repeated invocations while the first agents warm up add nothing: "While
   scaling out, we do not consider instances that are warming up as part of the current capacity
   of the group. Therefore, multiple alarm breaches that fall in the range of the same step
   adjustment result in a single scaling activity" (EC2 Auto Scaling, step scaling), and the
   policy's warm-up covers the alarm's whole window. Only created when `min_agents` is 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.schema import FleetConfig
from agentfleet.providers.aws.names import FleetNames

# The from-zero arithmetic is pure, so it lives in settings.py, shared with `agentfleet simulate`
# (providers/aws/simulation.py).
from agentfleet.providers.aws.settings import (
    FROM_ZERO_ALARM_M,
    FROM_ZERO_ALARM_N,
    from_zero_steps,
    from_zero_warmup_seconds,
)

VISIBLE = "ApproximateNumberOfMessagesVisible"
IN_FLIGHT = "ApproximateNumberOfMessagesNotVisible"
IN_SERVICE = "GroupInServiceInstances"
DESIRED = "GroupDesiredCapacity"
BACKLOG_PER_AGENT = "(visible + inflight) / agents"
FROM_ZERO = "IF(FILL(desired, 0) == 0, FILL(visible, 0), 0)"


# Target tracking's argument classes, named for what they are in this module.
TargetTrackingArgs = aws.autoscaling.PolicyTargetTrackingConfigurationArgs
TrackedMetricsArgs = aws.autoscaling.PolicyTargetTrackingConfigurationCustomizedMetricSpecificationArgs
TrackedMetricArgs = aws.autoscaling.PolicyTargetTrackingConfigurationCustomizedMetricSpecificationMetricArgs
TrackedStatArgs = (
    aws.autoscaling.PolicyTargetTrackingConfigurationCustomizedMetricSpecificationMetricMetricStatArgs
)
TrackedStatMetricArgs = (
    aws.autoscaling.PolicyTargetTrackingConfigurationCustomizedMetricSpecificationMetricMetricStatMetricArgs
)
TrackedDimensionArgs = aws.autoscaling.PolicyTargetTrackingConfigurationCustomizedMetricSpecificationMetricMetricStatMetricDimensionArgs  # noqa: E501


def _tracked_metric(
    metric_id: str,
    namespace: str,
    metric_name: str,
    dimension: tuple[str, pulumi.Input[str]],
    stat: str,
    period: int,
) -> TrackedMetricArgs:
    """One input of the target-tracking metric math (not returned: the expression is)."""
    return TrackedMetricArgs(
        id=metric_id,
        return_data=False,
        metric_stat=TrackedStatArgs(
            stat=stat,
            period=period,
            metric=TrackedStatMetricArgs(
                namespace=namespace,
                metric_name=metric_name,
                dimensions=[TrackedDimensionArgs(name=dimension[0], value=dimension[1])],
            ),
        ),
    )


def _alarm_metric(
    metric_id: str, namespace: str, metric_name: str, dimension: tuple[str, pulumi.Input[str]], period: int
) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
    """One input of an alarm's metric math, at its maximum over the period."""
    return aws.cloudwatch.MetricAlarmMetricQueryArgs(
        id=metric_id,
        return_data=False,
        metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
            namespace=namespace,
            metric_name=metric_name,
            dimensions={dimension[0]: dimension[1]},
            stat="Maximum",
            period=period,
        ),
    )


def build_target_tracking(
    parent: pulumi.Resource,
    config: FleetConfig,
    policy: ScalingPolicy,
    *,
    group_name: pulumi.Input[str],
    queue_name: pulumi.Input[str],
) -> aws.autoscaling.Policy:
    names = FleetNames(config.name)
    period = policy.metric_period_seconds
    queue = ("QueueName", queue_name)
    group = ("AutoScalingGroupName", group_name)
    agents = _tracked_metric("agents", "AWS/AutoScaling", IN_SERVICE, group, "Average", period)
    ratio = TrackedMetricArgs(
        id="backlog_per_agent", label="Backlog per agent", expression=BACKLOG_PER_AGENT, return_data=True
    )
    return aws.autoscaling.Policy(
        names.prefixed("backlog-per-agent"),
        name=names.prefixed("backlog-per-agent"),
        autoscaling_group_name=group_name,
        policy_type="TargetTrackingScaling",
        target_tracking_configuration=TargetTrackingArgs(
            target_value=float(policy.target_backlog_per_agent),
            disable_scale_in=False,
            customized_metric_specification=TrackedMetricsArgs(
                metrics=[
                    _tracked_metric("visible", "AWS/SQS", VISIBLE, queue, "Sum", period),
                    _tracked_metric("inflight", "AWS/SQS", IN_FLIGHT, queue, "Sum", period),
                    agents,
                    ratio,
                ]
            ),
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )


@dataclass
class FromZero:
    policy: aws.autoscaling.Policy
    alarm: aws.cloudwatch.MetricAlarm


def build_scale_from_zero(
    parent: pulumi.Resource,
    config: FleetConfig,
    policy: ScalingPolicy,
    *,
    group_name: pulumi.Input[str],
    queue_name: pulumi.Input[str],
) -> FromZero | None:
    if not policy.scales_to_zero:
        return None  # the group never has zero agents: target tracking always has a value
    names = FleetNames(config.name)
    opts = pulumi.ResourceOptions(parent=parent)
    period = policy.metric_period_seconds
    step_policy = aws.autoscaling.Policy(
        names.prefixed("from-zero"),
        name=names.prefixed("from-zero"),
        autoscaling_group_name=group_name,
        policy_type="StepScaling",
        # Only ever adds: every step's adjustment is positive (see the module docstring).
        adjustment_type="ChangeInCapacity",
        metric_aggregation_type="Maximum",
        estimated_instance_warmup=from_zero_warmup_seconds(policy),
        step_adjustments=[
            aws.autoscaling.PolicyStepAdjustmentArgs(
                scaling_adjustment=s.capacity,
                metric_interval_lower_bound=_bound(s.lower),
                metric_interval_upper_bound=None if s.upper is None else _bound(s.upper),
            )
            for s in from_zero_steps(policy)
        ],
        opts=opts,
    )
    alarm = aws.cloudwatch.MetricAlarm(
        names.prefixed("work-at-zero"),
        name=names.prefixed("work-at-zero"),
        alarm_description=(
            f"agentfleet {config.name}: messages are waiting and the group wants no agent; "
            "starts the first agents (target tracking has no value at zero agents)"
        ),
        comparison_operator="GreaterThanOrEqualToThreshold",
        threshold=float(policy.scale_from_zero_threshold),
        evaluation_periods=FROM_ZERO_ALARM_N,
        datapoints_to_alarm=FROM_ZERO_ALARM_M,
        treat_missing_data="notBreaching",
        metric_queries=[
            _alarm_metric("visible", "AWS/SQS", VISIBLE, ("QueueName", queue_name), period),
            _alarm_metric(
                "desired", "AWS/AutoScaling", DESIRED, ("AutoScalingGroupName", group_name), period
            ),
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id="waiting_at_zero",
                label="Messages waiting with no agent",
                expression=FROM_ZERO,
                return_data=True,
            ),
        ],
        alarm_actions=[step_policy.arn],
        opts=opts,
    )
    return FromZero(policy=step_policy, alarm=alarm)


def _bound(value: float) -> str:
    return str(int(value)) if value == math.floor(value) else str(value)
