"""The Azure scaling policy: an autoscale setting on the scale set, driven by this queue's backlog.

Azure Monitor autoscale has no target tracking; it has threshold rules. The cloud-neutral policy
(`components.policy.ScalingPolicy`) becomes rules on the Service Bus metric `ActiveMessages` of
this namespace, filtered to this queue (`EntityName`):

| rule | metric | fires when | action |
| --- | --- | --- | --- |
| backlog-high | per instance, average | > target_backlog_per_agent | +1 agent |
| backlog-burst | per instance, average | > 2 x target | +100 % (doubles the fleet) |
| backlog-low | per instance, maximum | < target | -1 agent, after scale_in_cooldown_seconds |

ActiveMessages counts messages waiting *and* locked by agents, so busy agents are counted, as the
policy's backlog is. Scale-out: any rule fires, the largest resulting count wins; scale-in: every
scale-in rule must agree, and only when no scale-out rule fires.

Two properties hold for every fleet size N from 1 to max_agents (tests/infra/test_azure_scaling.py
checks them over the whole range):

- a scale-out rule fires only when the policy wants more agents than N (backlog > N x target):
  no rule fires on a trickle, so a trickle never holds the fleet at its burst size by keeping
  Azure from evaluating the scale-in rule;
- every scale-out action adds agents (ChangeCount, PercentChangeCount): none is an ExactCount,
  whose effect on a fleet already above the count Azure does not document.

The scale set never goes below one agent (capacity minimum max(min_agents, 1)). No rule can
start an agent at zero for a small backlog without breaking the first property: autoscale has
no condition on the instance count, ActiveMessages also counts locked messages, and what a
per-instance value is at zero instances is undocumented. So `min_agents: 0` keeps one agent on
Azure, and the program says so (docs/azure.md, "Scaling from zero").
"""

from __future__ import annotations

import pulumi
from pulumi_azure_native import compute, monitor

from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.schema import FleetConfig
from agentfleet.providers.azure.names import FleetNames, Site
from agentfleet.providers.azure.queue import Queue
from agentfleet.providers.azure.settings import (
    FEWEST_AGENTS,
    cooldown_seconds,
    fewest_agents,
    iso_duration,
)

METRIC = "ActiveMessages"
METRIC_NAMESPACE = "Microsoft.ServiceBus/namespaces"
DIMENSION = "EntityName"
#: Azure's shortest evaluation window for an autoscale metric trigger is 5 minutes.
TIME_WINDOW = "PT5M"
TIME_GRAIN = "PT1M"


ZERO_NOTICE = (
    "agentfleet: fleet.scaling.min_agents=0: on Azure the fleet keeps 1 agent; Azure autoscale cannot "
    "start an agent from zero for a small backlog without holding a trickle at its burst size "
    '(docs/azure.md, "Scaling from zero")'
)


def capacity(policy: ScalingPolicy) -> monitor.ScaleCapacityArgs:
    """max from the config; minimum and default (used when metrics are missing) at least one
    agent, so neither an empty window nor a metrics outage leaves messages with no agent."""
    fewest = str(fewest_agents(policy))
    return monitor.ScaleCapacityArgs(minimum=fewest, maximum=str(policy.max_agents), default=fewest)


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
    return iso_duration(cooldown_seconds(seconds))


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
    if policy.min_agents < FEWEST_AGENTS:
        pulumi.log.info(ZERO_NOTICE)
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
