"""`ScalableAgentFleet` on Azure inside a user's own program: an explicit azure-native provider
decides the location, and values from other resources (`FleetInputs`) are wired in as Outputs."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pulumi_azure_native as azure_native
import pytest
import yaml

from agentfleet.components.fleet import FleetArgs, ScalableAgentFleet
from agentfleet.components.network import FleetNetwork
from agentfleet.components.problems import ConfigError
from agentfleet.components.validation import load_fleet_config
from agentfleet.providers.base import FleetInputs
from agentfleet.synth import Synthesis, synthesize_program

VMSS = "azure-native:compute:VirtualMachineScaleSet"
PLACEHOLDER_IMAGE = "ghcr.io/acme/placeholder:0"


def run(program: Callable[[], Any], config: Mapping[str, str]) -> Synthesis:
    """Run `program` under the Azure mocks (agentfleet.synth), as the stack program runs."""
    return synthesize_program(program, config, cloud="azure")


def fleet_config(name: str, **azure: Any) -> Any:
    raw = {"name": name, "agent": {"image": PLACEHOLDER_IMAGE}, **({"azure": azure} if azure else {})}
    return load_fleet_config("azure", raw)


def nic(vmss: Any) -> dict[str, Any]:
    return dict(vmss.inputs["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0])


def release(vmss: Any) -> dict[str, Any]:
    return dict(yaml.safe_load(base64.b64decode(vmss.inputs["virtualMachineProfile"]["userData"]).decode()))


def west_fleet() -> pulumi.Output[Any]:
    west = azure_native.Provider("west", location="westus2")
    fleet = ScalableAgentFleet(
        "pricing",
        FleetArgs(cloud="azure", config=fleet_config("pricing")),
        opts=pulumi.ResourceOptions(providers={"azure-native": west}),
    )
    return pulumi.Output.all(fleet.queue, fleet.agent_group)


@pytest.mark.parametrize("stack_location", [{"azure-native:location": "westeurope"}, {}])
def test_an_explicit_provider_s_location_is_where_everything_goes(stack_location: dict[str, str]) -> None:
    s = run(west_fleet, {"agentfleet:cloud": "azure", **stack_location})
    group = s.one("azure-native:resources:ResourceGroup")
    # No location of its own: the provider's ("ResourceGroups will consult this property").
    assert "location" not in group.inputs and group.outputs["location"] == "westus2"
    located = [r for r in s.resources if r.custom and "location" in r.inputs]
    assert len(located) > 10
    for r in located:
        assert r.inputs["location"] == ("global" if r.type.endswith("MetricAlert") else "westus2"), r.name
    # Every resource of the fleet is managed by that provider, none by the default one.
    provider = s.one("pulumi:providers:azure-native")
    children = [r for r in s.resources if r.custom and r.type != provider.type]
    assert {r.provider.rpartition("::")[0] for r in children} == {provider.urn}
    # No invoke runs at all on Azure (so none can miss the provider).
    assert s.invokes == []


def test_without_a_provider_or_a_stack_location_the_setting_is_named() -> None:
    def program() -> Any:
        return ScalableAgentFleet("pricing", FleetArgs(cloud="azure", config=fleet_config("pricing"))).queue

    with pytest.raises(ConfigError) as exc:
        run(program, {"agentfleet:cloud": "azure"})
    assert str(exc.value) == (
        "agentfleet: azure-native:location must be set for an Azure stack: "
        "pulumi config set azure-native:location westeurope"
    )


def user_subnet() -> azure_native.network.Subnet:
    vnet = azure_native.network.VirtualNetwork(
        "corp-vnet",
        resource_group_name="corp-rg",
        address_space=azure_native.network.AddressSpaceArgs(address_prefixes=["10.9.0.0/16"]),
    )
    return azure_native.network.Subnet(
        "corp-agents",
        resource_group_name="corp-rg",
        virtual_network_name=vnet.name,
        address_prefix="10.9.0.0/24",
    )


def built_image() -> pulumi.Output[str]:
    """An image reference that exists only once another resource does (a registry's group here)."""
    group = azure_native.resources.ResourceGroup("images", location="westeurope")
    return group.name.apply(lambda n: f"ghcr.io/acme/{n}:2.0.1")


STACK = {"agentfleet:cloud": "azure", "azure-native:location": "westeurope"}


@pytest.mark.parametrize("as_output", [False, True])
def test_inputs_image_and_subnet_come_from_other_resources(as_output: bool) -> None:
    def program() -> Any:
        subnet = user_subnet()
        ids: Any = pulumi.Output.all(subnet.id) if as_output else [subnet.id]
        fleet = ScalableAgentFleet(
            "pricing",
            FleetArgs(
                cloud="azure",
                config=fleet_config("pricing"),
                inputs=FleetInputs(image=built_image(), subnet_ids=ids),
            ),
        )
        return fleet.agent_group

    s = run(program, STACK)
    subnet = s.named("corp-agents")
    (vmss,) = s.of_type(VMSS)
    assert nic(vmss)["ipConfigurations"][0]["subnet"] == {"id": subnet.id}
    # The fleet builds no network of its own, only its NSG for the NICs.
    assert [r.name for r in s.of_type("azure-native:network:VirtualNetwork")] == ["corp-vnet"]
    assert s.of_type("azure-native:network:NatGateway") == []
    image = f"ghcr.io/acme/{s.named('images').outputs['name']}:2.0.1"
    text = yaml.safe_dump(release(vmss))
    assert image in text and PLACEHOLDER_IMAGE not in text


def test_subnet_ids_must_hold_exactly_one_subnet() -> None:
    def program() -> Any:
        subnet = user_subnet()
        inputs = FleetInputs(subnet_ids=[subnet.id, subnet.id])
        return ScalableAgentFleet(
            "pricing", FleetArgs(cloud="azure", config=fleet_config("pricing"), inputs=inputs)
        ).queue

    with pytest.raises(ConfigError) as exc:
        run(program, STACK)
    assert str(exc.value) == (
        "agentfleet: FleetInputs.subnet_ids='2 subnet ids' must hold exactly one subnet id on Azure: "
        "a scale set's agents join one subnet"
    )


def test_subnet_ids_and_the_subnet_setting_together_are_refused() -> None:
    def program() -> Any:
        config = fleet_config("pricing", subnet_id=USER_SUBNET_ID)
        inputs = FleetInputs(subnet_ids=[user_subnet().id])
        return ScalableAgentFleet("pricing", FleetArgs(cloud="azure", config=config, inputs=inputs)).queue

    with pytest.raises(ConfigError) as exc:
        run(program, STACK)
    assert "fleet.azure.subnet_id=" in str(exc.value)
    assert "must be unset when FleetInputs.subnet_ids is given" in str(exc.value)


USER_SUBNET_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/corp-rg/providers/"
    "Microsoft.Network/virtualNetworks/corp-vnet/subnets/agents"
)


def test_a_shared_network_on_the_user_s_subnet_and_provider() -> None:
    def program() -> Any:
        west = azure_native.Provider("west", location="westus2")
        opts = pulumi.ResourceOptions(providers={"azure-native": west})
        subnet = user_subnet()
        network = FleetNetwork(
            "team", "azure", fleet_config("orders"), FleetInputs(subnet_ids=[subnet.id]), opts=opts
        )
        fleets = [
            ScalableAgentFleet(
                n, FleetArgs(cloud="azure", config=fleet_config(n), network=network), opts=opts
            )
            for n in ("orders", "emails")
        ]
        return pulumi.Output.all(*[f.agent_group for f in fleets])

    s = run(program, STACK)
    subnet = s.named("corp-agents")
    assert [nic(v)["ipConfigurations"][0]["subnet"] for v in s.of_type(VMSS)] == [{"id": subnet.id}] * 2
    # Named after the network component, in its resource group at the provider's location.
    group = s.named("team-network-rg")
    assert group.outputs["location"] == "westus2"
    assert s.one("azure-native:operationalinsights:Workspace").name == "team-logs"
    assert s.one("azure-native:network:NetworkSecurityGroup").inputs["location"] == "westus2"
    assert [r.name for r in s.of_type("azure-native:network:VirtualNetwork")] == ["corp-vnet"]


def test_a_network_id_is_not_used_on_azure_and_pulumi_up_says_so() -> None:
    def program() -> Any:
        subnet = user_subnet()
        vnet_id = subnet.id.apply(lambda i: i.rsplit("/subnets/", 1)[0])
        inputs = FleetInputs(network_id=vnet_id, subnet_ids=[subnet.id])
        return ScalableAgentFleet(
            "pricing", FleetArgs(cloud="azure", config=fleet_config("pricing"), inputs=inputs)
        ).queue

    s = run(program, STACK)
    assert any("FleetInputs.network_id is not used on Azure" in n for n in s.notes), s.notes
    assert nic(s.one(VMSS))["ipConfigurations"][0]["subnet"] == {"id": s.named("corp-agents").id}
