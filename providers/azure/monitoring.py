"""What an operator watches: a Log Analytics workspace, the namespace's diagnostic settings into
it, and metric alerts on this queue.

Alerts (all on this namespace, filtered to this queue by `EntityName`):

- dead-lettered: any message in the queue's dead-letter sub-queue;
- backlog size: more messages than the fleet at `max_agents` aims to hold (max x target): the
  fleet is at its ceiling and still behind;
- backlog stalled: messages waiting for 15 minutes while none was delivered. Service Bus has no
  "age of oldest message" metric; waiting-with-no-deliveries is how a growing age shows up.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import monitor, operationalinsights

from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.schema import FleetConfig
from agentfleet.providers.azure.names import FleetNames, Site
from agentfleet.providers.azure.queue import Queue

LOG_RETENTION_DAYS = 30
STALL_WINDOW = "PT15M"


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
        metric_namespace="Microsoft.ServiceBus/namespaces",
        operator=operator,
        threshold=threshold,
        time_aggregation=aggregation,
        dimensions=[monitor.MetricDimensionArgs(name="EntityName", operator="Include", values=[queue_name])],
    )


def build_monitoring(
    parent: pulumi.Resource,
    config: FleetConfig,
    site: Site,
    *,
    policy: ScalingPolicy,
    queue: Queue,
) -> Monitoring:
    opts = pulumi.ResourceOptions(parent=parent)
    names = FleetNames(config.name)
    name = config.name
    namespace = queue.namespace
    workspace = operationalinsights.Workspace(
        names.workspace,
        resource_group_name=site.resource_group,
        location=site.location,
        sku=operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
        retention_in_days=LOG_RETENTION_DAYS,
        opts=opts,
    )
    diagnostics = monitor.DiagnosticSetting(
        names.bus_diagnostics,
        resource_uri=namespace.id,
        workspace_id=workspace.id,
        logs=[monitor.DiagnosticsLogSettingsArgs(category_group="allLogs", enabled=True)],
        metrics=[monitor.DiagnosticsMetricSettingsArgs(category="AllMetrics", enabled=True)],
        opts=opts,
    )

    def alert(
        key: str, description: str, severity: int, window: str, *criteria: monitor.MetricCriteriaArgs
    ) -> None:
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
                criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
                    odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                    all_of=list(criteria),
                ),
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
        _criterion("dead-lettered", "DeadletteredMessages", "GreaterThan", 0, "Maximum", queue.queue.name),
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
