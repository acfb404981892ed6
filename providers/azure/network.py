"""The agents' network: a VNet + subnet (or the user's subnet), an NSG that admits nothing from
the internet, and a NAT gateway for outbound traffic, so agents need no public IPs.

New Azure subnets have no default outbound access: without the NAT gateway an agent could not
pull its image or reach Service Bus. With the user's own subnet (`azure.subnet_id`, or
`FleetInputs.subnet_ids`), its outbound path (NAT gateway, firewall) is the user's to provide.

The same builder makes a fleet's own network (named after the fleet) and the one several fleets
share (named after the `FleetNetwork`, in its own resource group: fleet.py `build_shared`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_azure_native import network

from agentfleet.components.problems import ConfigError, ConfigProblem
from agentfleet.components.schema import FleetConfig
from agentfleet.providers.azure.names import FleetNames, NetworkNames, Site
from agentfleet.providers.azure.settings import AzureSettings
from agentfleet.providers.base import FleetInputs

VNET_CIDR = "10.42.0.0/16"
SUBNET_CIDR = "10.42.0.0/20"  # 4,091 usable addresses: room for max_agents (<= 1000) plus surge


@dataclass
class Network:
    subnet_id: pulumi.Input[str]
    nsg: network.NetworkSecurityGroup


def agent_subnet(config: FleetConfig, inputs: FleetInputs) -> pulumi.Input[str] | None:
    """The user's subnet for the agents: `FleetInputs.subnet_ids` (exactly one) or
    `fleet.azure.subnet_id`, never both; None builds a VNet."""
    setting = config.settings_for(AzureSettings).subnet_id
    for ignored in ("network_id", "cluster_id"):
        if getattr(inputs, ignored) is not None:
            pulumi.log.warn(
                f"agentfleet: FleetInputs.{ignored} is not used on Azure: the agents join a subnet "
                "(FleetInputs.subnet_ids=[subnet id]) and there is no cluster (docs/azure.md)"
            )
    if inputs.subnet_ids is None:
        return setting
    if setting is not None:
        raise ConfigError(
            [
                ConfigProblem(
                    "fleet.azure.subnet_id", setting, "must be unset when FleetInputs.subnet_ids is given"
                )
            ]
        )
    if isinstance(inputs.subnet_ids, list | tuple):
        return _only_subnet(inputs.subnet_ids)
    return pulumi.Output.from_input(inputs.subnet_ids).apply(_only_subnet)


def _only_subnet(subnet_ids: Sequence[Any]) -> Any:
    if len(subnet_ids) != 1:
        raise ConfigError(
            [
                ConfigProblem(
                    "FleetInputs.subnet_ids",
                    f"{len(subnet_ids)} subnet ids",
                    "must hold exactly one subnet id on Azure: a scale set's agents join one subnet",
                )
            ]
        )
    return subnet_ids[0]


def build_network(
    parent: pulumi.Resource,
    names: FleetNames | NetworkNames,
    site: Site,
    *,
    user_subnet: pulumi.Input[str] | None,
) -> Network:
    """The NSG, and unless `user_subnet` is given the VNet, subnet and NAT gateway, in `site`."""
    opts = pulumi.ResourceOptions(parent=parent)
    resource_group, location = site.resource_group, site.location
    nsg = network.NetworkSecurityGroup(
        names.security_group,
        resource_group_name=resource_group,
        location=location,
        security_rules=[
            network.SecurityRuleArgs(
                name="deny-internet-inbound",
                description="agents serve /healthz and /metrics inside the VNet only",
                priority=4000,
                direction="Inbound",
                access="Deny",
                protocol="*",
                source_address_prefix="Internet",
                source_port_range="*",
                destination_address_prefix="*",
                destination_port_range="*",
            )
        ],
        opts=opts,
    )
    if user_subnet is not None:
        # The NSG is attached to the scale set's NICs (compute.py), so it applies on a
        # user's subnet too.
        return Network(subnet_id=user_subnet, nsg=nsg)

    egress_ip = network.PublicIPAddress(
        names.nat_ip,
        resource_group_name=resource_group,
        location=location,
        sku=network.PublicIPAddressSkuArgs(name="Standard"),
        public_ip_allocation_method="Static",
        opts=opts,
    )
    nat = network.NatGateway(
        names.nat_gateway,
        resource_group_name=resource_group,
        location=location,
        sku=network.NatGatewaySkuArgs(name="Standard"),
        public_ip_addresses=[network.SubResourceArgs(id=egress_ip.id)],
        idle_timeout_in_minutes=10,
        opts=opts,
    )
    vnet = network.VirtualNetwork(
        names.vnet,
        resource_group_name=resource_group,
        location=location,
        address_space=network.AddressSpaceArgs(address_prefixes=[VNET_CIDR]),
        opts=opts,
    )
    subnet = network.Subnet(
        names.subnet,
        resource_group_name=resource_group,
        virtual_network_name=vnet.name,
        address_prefix=SUBNET_CIDR,
        network_security_group=network.NetworkSecurityGroupArgs(id=nsg.id),
        nat_gateway=network.SubResourceArgs(id=nat.id),
        default_outbound_access=False,
        opts=opts,
    )
    return Network(subnet_id=subnet.id, nsg=nsg)
