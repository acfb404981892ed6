"""What an operator watches: a Log Analytics workspace, the namespace's logs into it, and metric
alerts on this queue.

The namespace's metrics are not exported to the workspace: "AllMetrics" arrives there without its
dimensions, so it could not be filtered by queue, and ingesting it is billed. The alerts read the
platform metrics, dimensions and all, at no ingestion cost.

Alerts (all on this namespace, filtered to this queue by `EntityName`):

- dead-lettered: the dead-letter count rises above what it has been (a dynamic threshold, upper
  side only), so the alert fires when messages are dead-lettered, not for as long as the
  dead-letter queue is non-empty;
- backlog size: more messages than the fleet at `max_agents` aims to hold (max x target): the
  fleet is at its ceiling and still behind;
- backlog stalled: messages waiting for 15 minutes while none was delivered. Service Bus has no
  "age of oldest message" metric; waiting-with-no-deliveries is how a growing age shows up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_azure_native import monitor, operationalinsights

from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.schema import FleetConfig
from agentfleet.providers.azure.names import FleetNames, NetworkNames, Site
from agentfleet.providers.azure.queue import Queue

LOG_RETENTION_DAYS = 30
STALL_WINDOW = "PT15M"
METRIC_NAMESPACE = "Microsoft.ServiceBus/namespaces"


@dataclass
class Monitoring:
    workspace: operationalinsights.Workspace
    diagnostics: monitor.DiagnosticSetting
    alerts: list[monitor.MetricAlert]


def _criterion(
    name: str, metric: str, operator: str, threshold: float, aggregation: str, queue_name: pulumi.Input[str]
) -> monitor.MetricCriteriaArgs:
    return monitor.MetricCriteriaArgs(
        criterion_type="StaticThresholdCriterion",
        name=name,
        metric_name=metric,
        metric_namespace=METRIC_NAMESPACE,
        operator=operator,
        threshold=threshold,
        time_aggregation=aggregation,
        dimensions=[monitor.MetricDimensionArgs(name="EntityName", operator="Include", values=[queue_name])],
    )


def _criteria(
    criteria: list[Any], dynamic: bool
) -> (
    monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs
    | monitor.MetricAlertMultipleResourceMultipleMetricCriteriaArgs
):
    """A dynamic-threshold criterion is only accepted in the multiple-resource criteria type
    (`MultipleResourceMultipleMetricCriteria`: allOf of `DynamicThresholdCriterion` or static)."""
    if dynamic:
        return monitor.MetricAlertMultipleResourceMultipleMetricCriteriaArgs(
            odata_type="Microsoft.Azure.Monitor.MultipleResourceMultipleMetricCriteria", all_of=criteria
        )
    return monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
        odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria", all_of=criteria
    )


def _increase(name: str, metric: str, queue_name: pulumi.Input[str]) -> monitor.DynamicMetricCriteriaArgs:
    """Fires when `metric` rises above its learned band; a level that only stays up does not."""
    return monitor.DynamicMetricCriteriaArgs(
        criterion_type="DynamicThresholdCriterion",
        name=name,
        metric_name=metric,
        metric_namespace=METRIC_NAMESPACE,
        # DynamicThresholdOperator: GreaterThan is the upper threshold only (not GreaterOrLessThan).
        operator="GreaterThan",
        time_aggregation="Maximum",
        # "The extent of deviation required to trigger an alert": High is the tightest band.
        alert_sensitivity="High",
        # "The number of violations to trigger an alert": one 5-minute point of the last four.
        failing_periods=monitor.DynamicThresholdFailingPeriodsArgs(
            min_failing_periods_to_alert=1, number_of_evaluation_periods=4
        ),
        dimensions=[monitor.MetricDimensionArgs(name="EntityName", operator="Include", values=[queue_name])],
    )


def build_workspace(
    parent: pulumi.Resource, names: FleetNames | NetworkNames, site: Site
) -> operationalinsights.Workspace:
    """The Log Analytics workspace: a fleet's own, or the one the fleets of a stack share."""
    return operationalinsights.Workspace(
        names.workspace,
        resource_group_name=site.resource_group,
        location=site.location,
        sku=operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
        retention_in_days=LOG_RETENTION_DAYS,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def build_monitoring(
    parent: pulumi.Resource,
    config: FleetConfig,
    site: Site,
    *,
    policy: ScalingPolicy,
    queue: Queue,
    workspace: operationalinsights.Workspace | None,
) -> Monitoring:
    """The namespace's logs into `workspace` (None: the fleet's own, made here) and the alerts."""
    opts = pulumi.ResourceOptions(parent=parent)
    names = FleetNames(config.name)
    name = config.name
    namespace = queue.namespace
    if workspace is None:
        workspace = build_workspace(parent, names, site)
    diagnostics = monitor.DiagnosticSetting(
        names.bus_diagnostics,
        resource_uri=namespace.id,
        workspace_id=workspace.id,
        logs=[monitor.DiagnosticsLogSettingsArgs(category_group="allLogs", enabled=True)],
        opts=opts,
    )

    def alert(
        key: str,
        description: str,
        severity: int,
        window: str,
        *criteria: monitor.MetricCriteriaArgs | monitor.DynamicMetricCriteriaArgs,
    ) -> None:
        dynamic = any(isinstance(c, monitor.DynamicMetricCriteriaArgs) for c in criteria)
        alerts.append(
            monitor.MetricAlert(
                names.alert(key),
                resource_group_name=site.resource_group,
                location="global",
                description=description,
                severity=severity,
                enabled=True,
                scopes=[namespace.id],
                evaluation_frequency="PT1M",
                window_size=window,
                auto_mitigate=True,
                criteria=_criteria(list(criteria), dynamic),
                # With the multiple-resource criteria type: what the one scope is, and where.
                target_resource_type=METRIC_NAMESPACE if dynamic else None,
                target_resource_region=site.location if dynamic else None,
                opts=opts,
            )
        )

    alerts: list[monitor.MetricAlert] = []
    ceiling = float(policy.max_agents * policy.target_backlog_per_agent)
    alert(
        "dead-lettered",
        f"{name}: messages were dead-lettered (failed {config.queue.max_receive_count} times or expired)",
        1,
        "PT5M",
        _increase("dead-lettered", "DeadletteredMessages", queue.queue.name),
    )
    alert(
        "backlog-size",
        f"{name}: backlog above {int(ceiling)} messages, what {policy.max_agents} agents at "
        f"{policy.target_backlog_per_agent} each aim for: the fleet is at max_agents and behind",
        2,
        "PT15M",
        _criterion("backlog", "ActiveMessages", "GreaterThan", ceiling, "Minimum", queue.queue.name),
    )
    alert(
        "backlog-stalled",
        f"{name}: messages waited {STALL_WINDOW} with none delivered: agents are down or stuck",
        1,
        STALL_WINDOW,
        _criterion("waiting", "ActiveMessages", "GreaterThan", 0, "Minimum", queue.queue.name),
        _criterion("delivered", "OutgoingMessages", "LessThan", 1, "Total", queue.queue.name),
    )
    return Monitoring(workspace=workspace, diagnostics=diagnostics, alerts=alerts)
