"""Several fleets in one Azure stack (`agentfleet:fleets`): one network, NAT and log workspace
in a resource group of the `FleetNetwork`, everything else per fleet."""

from __future__ import annotations

from typing import Any

import pytest

from agentfleet.components.problems import ConfigError
from agentfleet.synth import Recorded, Synthesis
from tests.infra.helpers import synth, synth_fleets

NETWORK = "agentfleet:index:FleetNetwork"
VMSS = "azure-native:compute:VirtualMachineScaleSet"
SHARED_ONCE = (
    "azure-native:network:VirtualNetwork",
    "azure-native:network:Subnet",
    "azure-native:network:NatGateway",
    "azure-native:network:PublicIPAddress",
    "azure-native:network:NetworkSecurityGroup",
    "azure-native:operationalinsights:Workspace",
)
USER_SUBNET = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net-rg/providers/"
    "Microsoft.Network/virtualNetworks/corp-vnet/subnets/agents"
)


@pytest.fixture(scope="module")
def stack() -> Synthesis:
    return synth_fleets("azure", [{"name": "orders"}, {"name": "emails"}])


def nic(vmss: Recorded) -> dict[str, Any]:
    return dict(vmss.inputs["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0])


def fleet_of(s: Synthesis, r: Recorded) -> str:
    """The name of the component (fleet or network) `r` is a child of."""
    return s.by_urn(r.parent).name


def test_one_network_nat_and_workspace_for_two_fleets(stack: Synthesis) -> None:
    for kind in SHARED_ONCE:
        shared = stack.one(kind)
        assert stack.by_urn(shared.parent).type == NETWORK, kind
        assert shared.name.startswith("shared-"), shared.name


def test_each_fleet_keeps_its_queue_identity_state_and_scaling(stack: Synthesis) -> None:
    for kind in (
        "azure-native:servicebus:Namespace",
        "azure-native:servicebus:Queue",
        "azure-native:managedidentity:UserAssignedIdentity",
        "azure-native:storage:StorageAccount",
        VMSS,
        "azure-native:monitor:AutoscaleSetting",
    ):
        assert sorted(fleet_of(stack, r) for r in stack.of_type(kind)) == ["emails", "orders"], kind


def test_three_resource_groups_the_network_s_and_one_per_fleet(stack: Synthesis) -> None:
    groups = {fleet_of(stack, r): r.name for r in stack.of_type("azure-native:resources:ResourceGroup")}
    assert groups == {"shared": "shared-network-rg", "orders": "orders-rg", "emails": "emails-rg"}


def test_both_fleets_agents_join_the_shared_subnet_behind_the_shared_nsg(stack: Synthesis) -> None:
    subnet = stack.one("azure-native:network:Subnet")
    nsg = stack.one("azure-native:network:NetworkSecurityGroup")
    for vmss in stack.of_type(VMSS):
        assert nic(vmss)["ipConfigurations"][0]["subnet"] == {"id": subnet.id}
        assert nic(vmss)["networkSecurityGroup"] == {"id": nsg.id}
    assert subnet.inputs["natGateway"] == {"id": stack.one("azure-native:network:NatGateway").id}
    assert subnet.inputs["resourceGroupName"] == stack.named("shared-network-rg").outputs["name"]


def test_each_fleet_s_logs_go_to_the_shared_workspace(stack: Synthesis) -> None:
    workspace = stack.one("azure-native:operationalinsights:Workspace")
    diagnostics = stack.of_type("azure-native:monitor:DiagnosticSetting")
    assert len(diagnostics) == 2
    assert {d.inputs["workspaceId"] for d in diagnostics} == {workspace.id}


def test_each_identity_is_granted_only_within_its_own_fleet_s_resource_group(stack: Synthesis) -> None:
    for fleet in ("orders", "emails"):
        group = stack.named(f"{fleet}-rg").id
        principal = stack.named(f"{fleet}-identity").outputs["principalId"]
        mine = [
            r
            for r in stack.of_type("azure-native:authorization:RoleAssignment")
            if r.inputs["principalId"] == principal
        ]
        assert len(mine) == 5
        assert all(r.inputs["scope"].startswith(group + "/") for r in mine), fleet


def test_every_resource_name_is_unique(stack: Synthesis) -> None:
    urns = [r.urn for r in stack.resources]
    assert len(urns) == len(set(urns))
    # Azure names too: no two resources of a type share a logical name.
    assert len({(r.type, r.name) for r in stack.resources}) == len(stack.resources)


def test_outputs_per_fleet(stack: Synthesis) -> None:
    assert stack.outputs["cloud"] == "azure"
    assert set(stack.outputs["fleets"]) == {"orders", "emails"}
    assert stack.outputs["fleets"]["orders"]["queue_name"] == "orders"
    assert stack.outputs["fleets"]["emails"]["resource_group"] == stack.named("emails-rg").outputs["name"]


def test_a_shared_user_subnet_replaces_the_vnet_for_every_fleet() -> None:
    s = synth_fleets("azure", [{"name": "orders", "azure": {"subnet_id": USER_SUBNET}}, {"name": "emails"}])
    assert s.of_type("azure-native:network:VirtualNetwork") == []
    assert s.of_type("azure-native:network:NatGateway") == []
    assert [nic(v)["ipConfigurations"][0]["subnet"] for v in s.of_type(VMSS)] == [{"id": USER_SUBNET}] * 2


def test_a_fleet_may_repeat_the_shared_subnet_but_not_name_another() -> None:
    same = {"azure": {"subnet_id": USER_SUBNET}}
    assert (
        len(synth_fleets("azure", [{"name": "orders", **same}, {"name": "emails", **same}]).of_type(VMSS))
        == 2
    )
    other = {"azure": {"subnet_id": USER_SUBNET.replace("agents", "other")}}
    with pytest.raises(ConfigError) as exc:
        synth_fleets("azure", [{"name": "orders", **same}, {"name": "emails", **other}])
    assert "fleet.azure.subnet_id=" in str(exc.value)
    assert "must be unset (or the first fleet's) when fleets share a network" in str(exc.value)


def test_one_fleet_alone_builds_its_own_network_as_before() -> None:
    s = synth("azure")
    assert not [r for r in s.resources if r.type == NETWORK]
    assert s.one("azure-native:network:VirtualNetwork").name == "moodring-vnet"
    assert fleet_of(s, s.one("azure-native:operationalinsights:Workspace")) == "moodring"


def test_a_dry_run_of_two_fleets_registers_the_same_shared_network() -> None:
    s = synth_fleets("azure", [{"name": "orders"}, {"name": "emails"}], preview=True)
    for kind in SHARED_ONCE:
        assert len(s.of_type(kind)) == 1, kind
    assert len(s.of_type(VMSS)) == 2
