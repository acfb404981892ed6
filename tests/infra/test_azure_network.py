"""Network and observability: no way in from the internet, a way out through NAT, and alerts on
this queue."""

from __future__ import annotations

import pytest

from agentfleet.synth import Synthesis
from tests.infra.helpers import synth

NSG = "azure-native:network:NetworkSecurityGroup"
SUBNET = "azure-native:network:Subnet"
ALERT = "azure-native:monitor:MetricAlert"
USER_SUBNET = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net-rg/providers/"
    "Microsoft.Network/virtualNetworks/shared-vnet/subnets/agents"
)


@pytest.fixture(scope="module")
def stack() -> Synthesis:
    return synth("azure", {"scaling": {"max_agents": 8, "target_backlog_per_agent": 5}})


def test_nsg_denies_all_inbound_from_the_internet(stack: Synthesis) -> None:
    (rule,) = stack.one(NSG).inputs["securityRules"]
    assert (rule["direction"], rule["access"], rule["sourceAddressPrefix"]) == ("Inbound", "Deny", "Internet")
    assert (rule["protocol"], rule["destinationPortRange"]) == ("*", "*")


def test_subnet_uses_the_nsg_and_nat_gateway_without_default_outbound(stack: Synthesis) -> None:
    subnet = stack.one(SUBNET).inputs
    assert subnet["networkSecurityGroup"] == {"id": stack.one(NSG).id}
    assert subnet["natGateway"] == {"id": stack.one("azure-native:network:NatGateway").id}
    assert subnet["defaultOutboundAccess"] is False
    assert subnet["virtualNetworkName"] == stack.one("azure-native:network:VirtualNetwork").outputs["name"]


def test_the_only_public_ip_is_the_nat_gateway_s(stack: Synthesis) -> None:
    (ip,) = stack.of_type("azure-native:network:PublicIPAddress")
    nat = stack.one("azure-native:network:NatGateway").inputs
    assert nat["publicIpAddresses"] == [{"id": ip.id}]


def test_user_subnet_replaces_the_vnet() -> None:
    s = synth("azure", {"azure": {"subnet_id": USER_SUBNET}})
    assert s.of_type("azure-native:network:VirtualNetwork") == []
    assert s.of_type(SUBNET) == []
    nic = s.one("azure-native:compute:VirtualMachineScaleSet").inputs["virtualMachineProfile"][
        "networkProfile"
    ]["networkInterfaceConfigurations"][0]
    assert nic["ipConfigurations"][0]["subnet"] == {"id": USER_SUBNET}
    assert nic["networkSecurityGroup"] == {"id": s.one(NSG).id}


def test_namespace_diagnostics_go_to_this_workspace(stack: Synthesis) -> None:
    diag = stack.one("azure-native:monitor:DiagnosticSetting").inputs
    assert diag["resourceUri"] == stack.one("azure-native:servicebus:Namespace").id
    assert diag["workspaceId"] == stack.one("azure-native:operationalinsights:Workspace").id
    assert diag["logs"] == [{"categoryGroup": "allLogs", "enabled": True}]


def test_metrics_are_not_exported_without_their_dimensions(stack: Synthesis) -> None:
    # Exported metrics lose their dimensions (no filtering by queue) and are billed as ingestion;
    # the alerts read the platform metrics directly. Failed before: AllMetrics was exported.
    diag = stack.one("azure-native:monitor:DiagnosticSetting").inputs
    assert not diag.get("metrics")


def _alert(s: Synthesis, name: str) -> dict:
    return dict(s.named(f"moodring-{name}").inputs)


def test_alerts_watch_this_namespace_and_queue(stack: Synthesis) -> None:
    ns = stack.one("azure-native:servicebus:Namespace").id
    assert len(stack.of_type(ALERT)) == 3
    for alert in stack.of_type(ALERT):
        assert alert.inputs["scopes"] == [ns]
        for criterion in alert.inputs["criteria"]["allOf"]:
            assert criterion["dimensions"] == [
                {"name": "EntityName", "operator": "Include", "values": ["moodring"]}
            ]


def test_dead_letter_alert_fires_on_increases_not_while_the_queue_is_non_empty(stack: Synthesis) -> None:
    # A static "count > 0" stays fired for as long as one message sits in the dead-letter queue;
    # a dynamic threshold on the upper side fires when the count rises above its band.
    # Failed before: StaticThresholdCriterion, GreaterThan 0.
    alert = _alert(stack, "dead-lettered")
    (c,) = alert["criteria"]["allOf"]
    assert c["criterionType"] == "DynamicThresholdCriterion"
    assert (c["metricName"], c["operator"]) == ("DeadletteredMessages", "GreaterThan")
    assert "threshold" not in c
    assert c["failingPeriods"] == {"minFailingPeriodsToAlert": 1, "numberOfEvaluationPeriods": 4}
    assert alert["autoMitigate"] is True
    # Dynamic criteria are accepted only in the multiple-resource criteria type.
    assert alert["criteria"]["odataType"] == "Microsoft.Azure.Monitor.MultipleResourceMultipleMetricCriteria"
    assert (alert["targetResourceType"], alert["targetResourceRegion"]) == (
        "Microsoft.ServiceBus/namespaces",
        "westeurope",
    )


def test_backlog_size_alert_is_what_max_agents_aim_to_hold(stack: Synthesis) -> None:
    (c,) = _alert(stack, "backlog-size")["criteria"]["allOf"]
    assert (c["metricName"], c["operator"], c["threshold"]) == ("ActiveMessages", "GreaterThan", 40)


def test_stalled_backlog_alert_needs_waiting_messages_and_no_deliveries(stack: Synthesis) -> None:
    alert = _alert(stack, "backlog-stalled")
    assert alert["windowSize"] == "PT15M"
    metrics = {(c["metricName"], c["operator"], c["threshold"]) for c in alert["criteria"]["allOf"]}
    assert metrics == {("ActiveMessages", "GreaterThan", 0), ("OutgoingMessages", "LessThan", 1)}
