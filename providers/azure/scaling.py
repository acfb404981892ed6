"""The Azure scaling policy: an autoscale setting on the scale set, driven by this queue's backlog.

Azure Monitor autoscale has no target tracking; it has threshold rules. The cloud-neutral policy
(`components.policy.ScalingPolicy`) is translated into four rules on the Service Bus metric
`ActiveMessages` of this namespace, filtered to this queue (`EntityName`):

| rule | metric | fires when | action |
| --- | --- | --- | --- |
| backlog-high | per instance, average | > target_backlog_per_agent | +1 agent |
| backlog-burst | per instance, average | > 2 x target | +100 % (doubles the fleet) |
| start-from-zero | queue total, maximum | >= 1 message waiting | exactly 1 agent (min_agents 0 only) |
| backlog-low | per instance, maximum | < target | -1 agent, after scale_in_cooldown_seconds |

ActiveMessages counts messages waiting *and* locked by agents, so busy agents are counted, as the
policy's backlog is. Scale-out: any rule fires, the largest resulting count wins; scale-in: every
scale-in rule must agree, and Azure's anti-flapping estimate (metric x N / (N-1) must stay under
the scale-out threshold) holds a scale-in that would immediately be undone.

A per-instance ratio has no value at zero agents, which is why scale-from-zero is its own rule
on the queue total. Its action is ExactCount 1 on an Increase rule, so it only ever lifts an
empty fleet to one agent and is a no-op for a running fleet. It exists only when min_agents is 0:
Azure evaluates scale-in rules only when no scale-out rule fires, and this rule fires whenever a
message is in the queue, so with it a fleet shrinks only once the queue has been empty for the
whole window.
"""

from __future__ import annotations

import pulumi
from pulumi_azure_native import compute, monitor

from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.schema import FleetConfig
from agentfleet.providers.azure.names import FleetNames, Site
from agentfleet.providers.azure.queue import Queue
from agentfleet.providers.azure.settings import AUTOSCALE_COOLDOWN_MIN_SECONDS, iso_duration, whole_minutes

METRIC = "ActiveMessages"
METRIC_NAMESPACE = "Microsoft.ServiceBus/namespaces"
DIMENSION = "EntityName"
#: Azure's shortest evaluation window for an autoscale metric trigger is 5 minutes.
TIME_WINDOW = "PT5M"
TIME_GRAIN = "PT1M"


def capacity(policy: ScalingPolicy) -> monitor.ScaleCapacityArgs:
    """min/max from the config; default (used when metrics are missing) never 0, so a metrics
    outage cannot stop a fleet that has work."""
    default = min(policy.max_agents, max(policy.min_agents, 1))
    return monitor.ScaleCapacityArgs(
        minimum=str(policy.min_agents), maximum=str(policy.max_agents), default=str(default)
    )


def _trigger(
    namespace_id: pulumi.Input[str],
    queue_name: pulumi.Input[str],
    *,
    operator: monitor.ComparisonOperationType,
    threshold: float,
    per_instance: bool,
    aggregation: monitor.TimeAggregationType,
) -> monitor.MetricTriggerArgs:
    return monitor.MetricTriggerArgs(
        metric_name=METRIC,
        metric_namespace=METRIC_NAMESPACE,
        metric_resource_uri=namespace_id,
        dimensions=[
            monitor.ScaleRuleMetricDimensionArgs(
                dimension_name=DIMENSION,
                operator=monitor.ScaleRuleMetricDimensionOperationType.EQUALS,
                values=[queue_name],
            )
        ],
        divide_per_instance=per_instance,
        operator=operator,
        threshold=threshold,
        statistic=monitor.MetricStatisticType.AVERAGE,
        time_aggregation=aggregation,
        time_grain=TIME_GRAIN,
        time_window=TIME_WINDOW,
    )


def _cooldown(seconds: int) -> str:
    """A scale action's cooldown: whole minutes, at least Azure's 1-minute minimum."""
    return iso_duration(max(AUTOSCALE_COOLDOWN_MIN_SECONDS, whole_minutes(seconds)))


def rules(
    config: FleetConfig,
    policy: ScalingPolicy,
    namespace_id: pulumi.Input[str],
    queue_name: pulumi.Input[str],
) -> list[monitor.ScaleRuleArgs]:
    target = float(policy.target_backlog_per_agent)
    out_cooldown = _cooldown(policy.scale_out_cooldown_seconds)
    in_cooldown = _cooldown(config.scaling.scale_in_cooldown_seconds)
    op, agg = monitor.ComparisonOperationType, monitor.TimeAggregationType
    up, down = monitor.ScaleDirection.INCREASE, monitor.ScaleDirection.DECREASE
    kind = monitor.ScaleType

    def rule(
        operator: monitor.ComparisonOperationType,
        threshold: float,
        per_instance: bool,
        aggregation: monitor.TimeAggregationType,
        action: monitor.ScaleActionArgs,
    ) -> monitor.ScaleRuleArgs:
        trigger = _trigger(
            namespace_id,
            queue_name,
            operator=operator,
            threshold=threshold,
            per_instance=per_instance,
            aggregation=aggregation,
        )
        return monitor.ScaleRuleArgs(metric_trigger=trigger, scale_action=action)

    out = [
        # backlog-high: more than target messages per agent -> one more agent.
        rule(op.GREATER_THAN, target, True, agg.AVERAGE,
             monitor.ScaleActionArgs(direction=up, type=kind.CHANGE_COUNT, value="1", cooldown=out_cooldown)),
        # backlog-burst: more than twice the target -> double the fleet.
        rule(op.GREATER_THAN, 2 * target, True, agg.AVERAGE,
             monitor.ScaleActionArgs(direction=up, type=kind.PERCENT_CHANGE_COUNT, value="100",
                                     cooldown=out_cooldown)),
    ]  # fmt: skip
    if policy.scales_to_zero:
        # start-from-zero: any message waiting in the queue (a total, not a ratio) -> at least one
        # agent. Only for fleets that can be at zero: while a scale-out rule fires, Azure does not
        # evaluate scale-in rules at all, and this one fires whenever the queue holds a message.
        out.append(
            rule(op.GREATER_THAN_OR_EQUAL, float(policy.scale_from_zero_threshold), False, agg.MAXIMUM,
                 monitor.ScaleActionArgs(direction=up, type=kind.EXACT_COUNT, value="1",
                                         cooldown=out_cooldown))
        )  # fmt: skip
    # backlog-low: under target per agent for the whole window -> one agent fewer.
    out.append(
        rule(op.LESS_THAN, target, True, agg.MAXIMUM,
             monitor.ScaleActionArgs(direction=down, type=kind.CHANGE_COUNT, value="1", cooldown=in_cooldown))
    )  # fmt: skip
    return out


def build_autoscale(
    parent: pulumi.Resource,
    config: FleetConfig,
    site: Site,
    *,
    policy: ScalingPolicy,
    scale_set: compute.VirtualMachineScaleSet,
    queue: Queue,
) -> monitor.AutoscaleSetting:
    return monitor.AutoscaleSetting(
        FleetNames(config.name).autoscale,
        resource_group_name=site.resource_group,
        location=site.location,
        enabled=True,
        target_resource_uri=scale_set.id,
        profiles=[
            monitor.AutoscaleProfileArgs(
                name="backlog-per-agent",
                capacity=capacity(policy),
                rules=rules(config, policy, queue.namespace.id, queue.queue.name),
            )
        ],
        opts=pulumi.ResourceOptions(parent=parent),
    )
