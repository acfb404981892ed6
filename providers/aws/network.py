"""Where the agents live: a new VPC with private subnets in two zones, or the user's own.

New VPC (no `aws.vpc_id`):
- two private subnets (agents, cache) and two public subnets (only the NAT gateway lives there),
  one of each per availability zone;
- one NAT gateway for the egress agents need (pulling the container image, AWS APIs without an
  endpoint). One, not one per zone: a zone outage stops image pulls in the other zone, but a
  dev/prod fleet saves a NAT gateway's hourly charge. Change `NAT_GATEWAYS` to harden it;
- gateway endpoints for S3 and DynamoDB (free, and they keep state traffic off the NAT) and an
  interface endpoint for SQS, which agents long-poll all day.

Existing VPC (`aws.vpc_id` + `aws.subnet_ids`): nothing is created but the agents' security
group; the subnets are used as given and their egress is the user's business.

Several fleets (`build_shared_network`, children of the `FleetNetwork` and named after it): the
new VPC above (or the user's) is built once; each fleet joins it with `join_network`, which gives
it its own agents' security group and its own rule into the shared SQS endpoint. A group per
fleet is what keeps fleets apart inside one VPC: a fleet's cache admits only its own agents'
group (state.py).

Either way agents get no public IP (launch template) and their security group has no ingress
rule at all: nothing from the internet, nothing from the VPC.

Zones are the region's standard Availability Zones only (`opt-in-status: opt-in-not-required`): an
account that opted in to a Local Zone would otherwise get it first in the sorted list ("us-east-1-bos-1a"
sorts before "us-east-1a"), and Local Zones offer neither NAT gateways nor interface endpoints.

`Network.ready` are the resources the agents' first boot needs in place (the private subnets' route
to the NAT gateway, the endpoints): the Auto Scaling group waits for them, or a first agent started
before its subnet has a route cannot install Docker or pull its image.

EC2 accepts only `a-zA-Z0-9 ._-:/()#,@[]+=&;{}!$*` in security group (rule) descriptions: no
apostrophes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from agentfleet.components.problems import MISSING, ConfigError, ConfigProblem
from agentfleet.components.schema import FleetConfig
from agentfleet.providers.aws.names import FleetNames, network_tags, tags
from agentfleet.providers.aws.settings import AwsSettings
from agentfleet.providers.base import FleetInputs

#: Tags for one resource of the network, given its extra tags (`Name=...`).
Tagger = Callable[..., dict[str, str]]

VPC_CIDR = "10.40.0.0/16"
PRIVATE_CIDRS = ("10.40.0.0/19", "10.40.32.0/19")
PUBLIC_CIDRS = ("10.40.128.0/24", "10.40.129.0/24")
ZONES = 2
NAT_GATEWAYS = 1
HTTPS = 443


@dataclass
class Network:
    """One fleet's place in a network: where its agents run, and their security group."""

    vpc_id: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    agents_security_group: aws.ec2.SecurityGroup
    #: What must exist before the first agent boots (routes, endpoints); empty for the user's network.
    ready: list[pulumi.Resource] = field(default_factory=list)


@dataclass
class SharedNetwork:
    """The network several fleets of a stack join (`build_shared_network`), built once.

    Each fleet still gets its own agents' security group (`join_network`): the cache of one fleet
    admits that fleet's group only (state.py), so agents of one fleet cannot reach another's.
    """

    #: The `FleetNetwork` component's name, which every shared resource's name starts with.
    name: str
    vpc_id: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    #: The interface endpoints' group (a new VPC only): each fleet admits its own agents to it.
    endpoints_security_group: aws.ec2.SecurityGroup | None
    ready: list[pulumi.Resource]
    #: The `aws.vpc_id` / `aws.subnet_ids` of the config the network was built from.
    configured: tuple[str | None, tuple[str, ...] | None]


@dataclass
class _Vpc:
    vpc_id: pulumi.Output[str]
    private_subnet_ids: list[pulumi.Output[str]]
    endpoints_security_group: aws.ec2.SecurityGroup
    ready: list[pulumi.Resource]


def build_network(
    parent: pulumi.Resource, config: FleetConfig, *, region: str, inputs: FleetInputs | None = None
) -> Network:
    """The fleet's own network: a new VPC, or the agents' security group in the user's."""
    names = FleetNames(config.name)
    opts = pulumi.ResourceOptions(parent=parent)
    existing = _existing(config, inputs or FleetInputs())
    if existing is not None:
        vpc_id, subnet_ids = existing
        sg = _agents_security_group(names, vpc_id, opts)
        return Network(vpc_id=vpc_id, private_subnet_ids=subnet_ids, agents_security_group=sg)
    vpc = _new_vpc(names, lambda **extra: tags(names.fleet, **extra), region, opts)
    sg = _agents_security_group(names, vpc.vpc_id, opts)
    _admit_to_endpoints(names, vpc.endpoints_security_group, sg, opts)
    return Network(
        vpc_id=vpc.vpc_id,
        private_subnet_ids=vpc.private_subnet_ids,
        agents_security_group=sg,
        ready=vpc.ready,
    )


def build_shared_network(
    parent: pulumi.Resource, config: FleetConfig, *, region: str, inputs: FleetInputs
) -> SharedNetwork:
    """The VPC (subnets, NAT, endpoints) of several fleets, as children of the `FleetNetwork`, named
    after it; or the user's VPC, which it only records."""
    name = parent.pulumi_resource_name
    settings = config.settings_for(AwsSettings)
    configured = (settings.vpc_id, tuple(settings.subnet_ids) if settings.subnet_ids is not None else None)
    existing = _existing(config, inputs)
    if existing is not None:
        vpc_id, subnet_ids = existing
        return SharedNetwork(name, vpc_id, subnet_ids, None, [], configured)
    names = FleetNames(name)
    vpc = _new_vpc(
        names, lambda **extra: network_tags(name, **extra), region, pulumi.ResourceOptions(parent=parent)
    )
    return SharedNetwork(
        name, vpc.vpc_id, vpc.private_subnet_ids, vpc.endpoints_security_group, vpc.ready, configured
    )


def join_network(
    parent: pulumi.Resource, config: FleetConfig, shared: SharedNetwork, inputs: FleetInputs
) -> Network:
    """The fleet's agents' security group in the shared VPC, admitted to its interface endpoints."""
    _check_joins(config, shared, inputs)
    names = FleetNames(config.name)
    opts = pulumi.ResourceOptions(parent=parent)
    sg = _agents_security_group(names, shared.vpc_id, opts)
    ready = list(shared.ready)
    if shared.endpoints_security_group is not None:
        ready.append(_admit_to_endpoints(names, shared.endpoints_security_group, sg, opts))
    return Network(
        vpc_id=shared.vpc_id,
        private_subnet_ids=shared.private_subnet_ids,
        agents_security_group=sg,
        ready=ready,
    )


def _existing(
    config: FleetConfig, inputs: FleetInputs
) -> tuple[pulumi.Input[str], pulumi.Input[Sequence[pulumi.Input[str]]]] | None:
    """The user's VPC and private subnets (inputs first, then `aws.vpc_id` / `aws.subnet_ids`), or None."""
    settings = config.settings_for(AwsSettings)
    vpc_id = inputs.network_id if inputs.network_id is not None else settings.vpc_id
    subnet_ids = inputs.subnet_ids if inputs.subnet_ids is not None else settings.subnet_ids
    if vpc_id is None and subnet_ids is None:
        return None
    if vpc_id is None or subnet_ids is None:
        given, missing = ("subnet_ids", "network_id") if vpc_id is None else ("network_id", "subnet_ids")
        raise ConfigError(
            [
                ConfigProblem(
                    f"inputs.{missing}",
                    MISSING,
                    f"is required with inputs.{given} on AWS: agents need the VPC and its private subnets",
                )
            ]
        )
    return vpc_id, subnet_ids


def _check_joins(config: FleetConfig, shared: SharedNetwork, inputs: FleetInputs) -> None:
    """A fleet that shares a network takes it as it is: its own network settings would be ignored."""
    problems = [
        ConfigProblem(
            f"inputs.{key}",
            "(an input)",
            "must be unset for a fleet that shares a FleetNetwork: pass it to the FleetNetwork",
        )
        for key in ("network_id", "subnet_ids")
        if getattr(inputs, key) is not None
    ]
    settings = config.settings_for(AwsSettings)
    vpc_id, subnet_ids = shared.configured
    for key, mine, theirs in (
        ("vpc_id", settings.vpc_id, vpc_id),
        ("subnet_ids", tuple(settings.subnet_ids) if settings.subnet_ids is not None else None, subnet_ids),
    ):
        if mine is not None and mine != theirs:
            problems.append(
                ConfigProblem(
                    f"fleets[{config.name}].aws.{key}",
                    list(mine) if isinstance(mine, tuple) else mine,
                    f"must equal the shared network's ({shared.name}: "
                    f"{list(theirs) if isinstance(theirs, tuple) else theirs or 'a new VPC'}): "
                    "the fleets of a stack share one network, built from the first fleet's settings",
                )
            )
    if problems:
        raise ConfigError(problems)


def _admit_to_endpoints(
    names: FleetNames,
    endpoints_sg: aws.ec2.SecurityGroup,
    agents_sg: aws.ec2.SecurityGroup,
    opts: pulumi.ResourceOptions,
) -> aws.vpc.SecurityGroupIngressRule:
    return aws.vpc.SecurityGroupIngressRule(
        names.prefixed("endpoints-from-agents"),
        security_group_id=endpoints_sg.id,
        referenced_security_group_id=agents_sg.id,
        ip_protocol="tcp",
        from_port=HTTPS,
        to_port=HTTPS,
        description="HTTPS from the agents of this fleet",
        opts=opts,
    )


def _agents_security_group(
    names: FleetNames, vpc_id: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> aws.ec2.SecurityGroup:
    sg = aws.ec2.SecurityGroup(
        names.prefixed("agents-sg"),
        name=names.prefixed("agents"),
        description=f"agentfleet {names.fleet} agents: no inbound; outbound to AWS APIs and the registry",
        vpc_id=vpc_id,
        tags=tags(names.fleet, Name=names.prefixed("agents")),
        opts=opts,
    )
    aws.vpc.SecurityGroupEgressRule(
        names.prefixed("agents-egress"),
        security_group_id=sg.id,
        description="HTTPS and DNS-resolved AWS endpoints, the container registry, the cache",
        ip_protocol="-1",
        cidr_ipv4="0.0.0.0/0",
        opts=opts,
    )
    return sg


def _new_vpc(names: FleetNames, tagged: Tagger, region: str, opts: pulumi.ResourceOptions) -> _Vpc:
    """VPC, subnets, NAT, routes and endpoints, named `{names.fleet}-...` (a fleet's, or the shared
    network's name) and tagged by `tagged`."""
    fleet = names.fleet
    zones = aws.get_availability_zones(
        state="available",
        filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
        opts=pulumi.InvokeOptions(parent=opts.parent),
    ).names[:ZONES]
    if len(zones) < ZONES:
        raise ValueError(
            f"agentfleet: region {region} has {len(zones)} available zones; a new VPC needs {ZONES}"
        )
    vpc = aws.ec2.Vpc(
        names.prefixed("vpc"),
        cidr_block=VPC_CIDR,
        enable_dns_support=True,
        enable_dns_hostnames=True,  # needed by the SQS interface endpoint's private DNS
        tags=tagged(Name=names.prefixed("vpc")),
        opts=opts,
    )
    igw = aws.ec2.InternetGateway(
        names.prefixed("igw"), vpc_id=vpc.id, tags=tagged(Name=names.prefixed("igw")), opts=opts
    )
    public_rt = aws.ec2.RouteTable(
        names.prefixed("public-rt"),
        vpc_id=vpc.id,
        routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
        tags=tagged(Name=names.prefixed("public")),
        opts=opts,
    )
    public: list[aws.ec2.Subnet] = []
    private: list[aws.ec2.Subnet] = []
    for i, zone in enumerate(zones):
        pub = aws.ec2.Subnet(
            names.prefixed(f"public-{i + 1}"),
            vpc_id=vpc.id,
            cidr_block=PUBLIC_CIDRS[i],
            availability_zone=zone,
            map_public_ip_on_launch=False,
            tags=tagged(Name=names.prefixed(f"public-{zone}")),
            opts=opts,
        )
        aws.ec2.RouteTableAssociation(
            names.prefixed(f"public-{i + 1}-rt"), subnet_id=pub.id, route_table_id=public_rt.id, opts=opts
        )
        public.append(pub)
        private.append(
            aws.ec2.Subnet(
                names.prefixed(f"private-{i + 1}"),
                vpc_id=vpc.id,
                cidr_block=PRIVATE_CIDRS[i],
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags=tagged(Name=names.prefixed(f"private-{zone}")),
                opts=opts,
            )
        )
    nat_ip = aws.ec2.Eip(
        names.prefixed("nat-ip"), domain="vpc", tags=tagged(Name=names.prefixed("nat")), opts=opts
    )
    nat = aws.ec2.NatGateway(
        names.prefixed("nat"),
        allocation_id=nat_ip.id,
        subnet_id=public[0].id,
        tags=tagged(Name=names.prefixed("nat")),
        opts=pulumi.ResourceOptions(parent=opts.parent, depends_on=[igw]),
    )
    private_rt = aws.ec2.RouteTable(
        names.prefixed("private-rt"),
        vpc_id=vpc.id,
        routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
        tags=tagged(Name=names.prefixed("private")),
        opts=opts,
    )
    ready: list[pulumi.Resource] = [
        aws.ec2.RouteTableAssociation(
            names.prefixed(f"private-{i + 1}-rt"),
            subnet_id=subnet.id,
            route_table_id=private_rt.id,
            opts=opts,
        )
        for i, subnet in enumerate(private)
    ]

    for service in ("s3", "dynamodb"):
        endpoint = aws.ec2.VpcEndpoint(
            names.prefixed(f"{service}-endpoint"),
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{region}.{service}",
            vpc_endpoint_type="Gateway",
            route_table_ids=[private_rt.id],
            tags=tagged(Name=names.prefixed(service)),
            opts=opts,
        )
        ready.append(endpoint)
    endpoint_sg = aws.ec2.SecurityGroup(
        names.prefixed("endpoints-sg"),
        name=names.prefixed("endpoints"),
        description=f"agentfleet {fleet} interface endpoints: HTTPS from the agents only",
        vpc_id=vpc.id,
        tags=tagged(Name=names.prefixed("endpoints")),
        opts=opts,
    )
    sqs_endpoint = aws.ec2.VpcEndpoint(
        names.prefixed("sqs-endpoint"),
        vpc_id=vpc.id,
        service_name=f"com.amazonaws.{region}.sqs",
        vpc_endpoint_type="Interface",
        private_dns_enabled=True,
        subnet_ids=[s.id for s in private],
        security_group_ids=[endpoint_sg.id],
        tags=tagged(Name=names.prefixed("sqs")),
        opts=opts,
    )
    ready.append(sqs_endpoint)
    return _Vpc(
        vpc_id=vpc.id,
        private_subnet_ids=[s.id for s in private],
        endpoints_security_group=endpoint_sg,
        ready=ready,
    )
