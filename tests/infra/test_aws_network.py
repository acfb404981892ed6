"""Network: private subnets in two zones with endpoints, or the user's own; nothing reachable inbound."""

from __future__ import annotations

from tests.infra.aws_helpers import aws_synth

EXISTING = {
    "aws": {
        "vpc_id": "vpc-0abc12345def67890",
        "subnet_ids": ["subnet-0abc12345def67890", "subnet-0123456789abcdef0"],
    }
}
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"


def test_new_vpc_uses_only_standard_availability_zones_never_local_zones() -> None:
    # An opted-in Local Zone ("us-east-1-bos-1a") sorts before "us-east-1a" and has no NAT gateway.
    token = "aws:index/getAvailabilityZones:getAvailabilityZones"
    calls = [args for called, args in aws_synth().invokes if called == token]
    assert calls
    for args in calls:
        assert args["state"] == "available"
        assert {"name": "opt-in-status", "values": ["opt-in-not-required"]} in args["filters"]


def test_new_vpc_has_private_subnets_in_two_zones_without_public_ips() -> None:
    s = aws_synth()
    vpc = s.one("aws:ec2/vpc:Vpc")
    private = [s.named(f"moodring-private-{i}").inputs for i in (1, 2)]
    assert {p["vpcId"] for p in private} == {vpc.id}
    assert len({p["availabilityZone"] for p in private}) == 2
    assert all(p["mapPublicIpOnLaunch"] is False for p in private)


def test_private_subnets_route_to_the_internet_only_through_nat() -> None:
    s = aws_synth()
    nat = s.one("aws:ec2/natGateway:NatGateway")
    rt = s.named("moodring-private-rt")
    assert rt.inputs["routes"] == [{"cidrBlock": "0.0.0.0/0", "natGatewayId": nat.id}]
    assert nat.inputs["subnetId"] == s.named("moodring-public-1").id
    associations = [r.inputs for r in s.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")]
    for i in (1, 2):
        subnet = s.named(f"moodring-private-{i}").id
        assert {"subnetId": subnet, "routeTableId": rt.id} in associations


def test_state_and_queue_traffic_use_vpc_endpoints() -> None:
    s = aws_synth()
    endpoints = {e.inputs["serviceName"]: e.inputs for e in s.of_type(ENDPOINT)}
    assert set(endpoints) == {
        "com.amazonaws.us-east-1.s3",
        "com.amazonaws.us-east-1.dynamodb",
        "com.amazonaws.us-east-1.sqs",
    }
    rt = s.named("moodring-private-rt").id
    for service in ("s3", "dynamodb"):
        gateway = endpoints[f"com.amazonaws.us-east-1.{service}"]
        assert gateway["vpcEndpointType"] == "Gateway"
        assert gateway["routeTableIds"] == [rt]
    sqs = endpoints["com.amazonaws.us-east-1.sqs"]
    assert sqs["vpcEndpointType"] == "Interface"
    assert sqs["privateDnsEnabled"] is True
    assert set(sqs["subnetIds"]) == {s.named(f"moodring-private-{i}").id for i in (1, 2)}


def test_agents_accept_no_inbound_traffic() -> None:
    s = aws_synth({"state": {"cache": True}})
    agents_sg = s.named("moodring-agents-sg")
    assert "ingress" not in agents_sg.inputs or agents_sg.inputs["ingress"] == []
    assert not [r for r in s.of_type(INGRESS) if r.inputs["securityGroupId"] == agents_sg.id]


def test_existing_network_creates_no_vpc_and_uses_the_given_subnets() -> None:
    s = aws_synth(EXISTING)
    for typ in ("aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/natGateway:NatGateway", ENDPOINT):
        assert s.of_type(typ) == [], typ
    assert s.named("moodring-agents").inputs["vpcZoneIdentifiers"] == EXISTING["aws"]["subnet_ids"]
    assert s.named("moodring-agents-sg").inputs["vpcId"] == "vpc-0abc12345def67890"
    assert not [i for i in s.invokes if i[0] == "aws:index/getAvailabilityZones:getAvailabilityZones"]


def test_cache_lives_in_the_private_subnets_and_admits_only_the_agents() -> None:
    s = aws_synth({"state": {"cache": True}})
    cache = s.named("moodring-cache").inputs
    subnets = s.named("moodring-cache-subnets")
    assert set(subnets.inputs["subnetIds"]) == {s.named(f"moodring-private-{i}").id for i in (1, 2)}
    assert cache["subnetGroupName"] == subnets.outputs["name"]
    cache_sg = s.named("moodring-cache-sg")
    assert cache["securityGroupIds"] == [cache_sg.id]
    (rule,) = [r.inputs for r in s.of_type(INGRESS) if r.inputs["securityGroupId"] == cache_sg.id]
    assert rule["referencedSecurityGroupId"] == s.named("moodring-agents-sg").id
    assert (rule["fromPort"], rule["toPort"], rule["ipProtocol"]) == (6379, 6379, "tcp")
    assert "cidrIpv4" not in rule


def test_cache_in_an_existing_network_uses_its_subnets() -> None:
    s = aws_synth({**EXISTING, "state": {"cache": True}})
    assert s.named("moodring-cache-subnets").inputs["subnetIds"] == EXISTING["aws"]["subnet_ids"]
    assert s.named("moodring-cache-sg").inputs["vpcId"] == "vpc-0abc12345def67890"
