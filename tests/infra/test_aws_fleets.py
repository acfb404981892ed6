"""Several fleets in one AWS stack (`agentfleet:fleets`): one VPC, NAT and endpoints; the rest apart."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest

from agentfleet.components.fleet import TYPE_TOKEN as FLEET
from agentfleet.components.network import TYPE_TOKEN as NETWORK
from agentfleet.components.problems import ConfigError
from agentfleet.synth import Synthesis
from tests.infra.helpers import synth_fleets

TWO = [{"name": "orders"}, {"name": "emails"}]
EXISTING = {
    "vpc_id": "vpc-0abc12345def67890",
    "subnet_ids": ["subnet-0abc12345def67890", "subnet-0123456789abcdef0"],
}
SHARED_TYPES = (
    "aws:ec2/vpc:Vpc",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/eip:Eip",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ec2/vpcEndpoint:VpcEndpoint",
)


@functools.lru_cache(maxsize=8)
def _cached(fleets: str) -> Synthesis:
    return synth_fleets("aws", json.loads(fleets))


def fleets(items: list[dict[str, Any]] = TWO) -> Synthesis:
    return _cached(json.dumps(items, sort_keys=True))


def test_one_network_for_two_fleets() -> None:
    s = fleets()
    assert len(s.of_type("aws:ec2/vpc:Vpc")) == 1
    assert len(s.of_type("aws:ec2/natGateway:NatGateway")) == 1
    assert len(s.of_type("aws:ec2/internetGateway:InternetGateway")) == 1
    assert len(s.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")) == 3
    network = s.one(NETWORK)
    for typ in SHARED_TYPES:
        for r in s.of_type(typ):
            assert r.parent == network.urn and r.name.startswith("shared-"), r.name
    assert s.one("aws:ec2/vpc:Vpc").inputs["tags"]["agentfleet:network"] == "shared"


def test_queues_identities_and_groups_stay_apart() -> None:
    s = fleets()
    queues = {r.inputs["name"] for r in s.of_type("aws:sqs/queue:Queue")}
    assert queues == {"orders-queue", "orders-dlq", "emails-queue", "emails-dlq"}
    assert {r.inputs["name"] for r in s.of_type("aws:iam/role:Role")} == {
        "orders-agent-us-east-1",
        "emails-agent-us-east-1",
    }
    owners = {f.name: f.urn for f in s.of_type(FLEET)}
    assert set(owners) == {"orders", "emails"}
    for typ in (
        "aws:sqs/queue:Queue",
        "aws:iam/role:Role",
        "aws:autoscaling/group:Group",
        "aws:ec2/securityGroup:SecurityGroup",
    ):
        for r in s.of_type(typ):
            if not r.name.startswith("shared-"):
                assert r.parent == owners[r.name.split("-", 1)[0]], r.name


def test_both_fleets_run_in_the_shared_private_subnets() -> None:
    s = fleets()
    vpc = s.one("aws:ec2/vpc:Vpc")
    private = [s.named(f"shared-private-{i}").id for i in (1, 2)]
    endpoints_sg = s.named("shared-endpoints-sg")
    for fleet in ("orders", "emails"):
        assert s.named(f"{fleet}-agents").inputs["vpcZoneIdentifiers"] == private
        agents_sg = s.named(f"{fleet}-agents-sg")
        assert agents_sg.inputs["vpcId"] == vpc.id
        admit = s.named(f"{fleet}-endpoints-from-agents")
        assert admit.inputs["securityGroupId"] == endpoints_sg.id
        assert admit.inputs["referencedSecurityGroupId"] == agents_sg.id
        # The first agent needs the shared routes and endpoints, and its own way into the endpoints.
        depends = set(s.named(f"{fleet}-agents").depends_on)
        assert {s.named(f"shared-private-{i}-rt").urn for i in (1, 2)} <= depends
        assert s.named("shared-sqs-endpoint").urn in depends and admit.urn in depends


def test_every_resource_name_is_registered_once() -> None:
    s = fleets([{"name": "orders", "state": {"cache": True}}, {"name": "emails", "state": {"cache": True}}])
    urns = [r.urn for r in s.resources]
    assert len(urns) == len(set(urns))
    physical = [
        (r.type, r.inputs[key])
        for r in s.resources
        for key in ("name", "dashboardName", "replicationGroupId", "bucketPrefix")
        if isinstance(r.inputs.get(key), str)
    ]
    assert len(physical) > 30
    assert len(physical) == len(set(physical))


def test_one_fleets_agents_cannot_reach_the_other_fleets_cache() -> None:
    # Why each fleet keeps its own agents' security group in the shared VPC.
    s = fleets([{"name": "orders", "state": {"cache": True}}, {"name": "emails", "state": {"cache": True}}])
    for fleet, other in (("orders", "emails"), ("emails", "orders")):
        cache_sg = s.named(f"{fleet}-cache-sg")
        admitted = {
            r.inputs.get("referencedSecurityGroupId")
            for r in s.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
            if r.inputs["securityGroupId"] == cache_sg.id
        }
        assert admitted == {s.named(f"{fleet}-agents-sg").id}
        assert s.named(f"{other}-agents-sg").id not in admitted


def test_outputs_per_fleet() -> None:
    s = fleets()
    assert s.outputs["cloud"] == "aws"
    assert set(s.outputs["fleets"]) == {"orders", "emails"}
    assert s.outputs["fleets"]["orders"]["queue"] == "orders-queue"
    assert s.outputs["fleets"]["emails"]["agent_group"] == "emails-agents"


def test_fleets_share_the_users_vpc_when_the_first_fleet_names_one() -> None:
    s = fleets([{"name": "orders", "aws": EXISTING}, {"name": "emails"}])
    for typ in SHARED_TYPES:
        assert s.of_type(typ) == [], typ
    for fleet in ("orders", "emails"):
        assert s.named(f"{fleet}-agents").inputs["vpcZoneIdentifiers"] == EXISTING["subnet_ids"]
        assert s.named(f"{fleet}-agents-sg").inputs["vpcId"] == EXISTING["vpc_id"]


def test_a_later_fleet_with_another_network_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as raised:
        fleets([{"name": "orders"}, {"name": "emails", "aws": EXISTING}])
    assert "fleets[emails].aws.vpc_id" in str(raised.value)
    assert "must equal the shared network's" in str(raised.value)


def test_each_fleet_reads_only_its_own_secrets() -> None:
    s = fleets([{"name": "orders", "agent": {"secrets": {"API_KEY": "orders-value-1"}}}, {"name": "emails"}])
    stored = s.one("aws:secretsmanager/secret:Secret")
    assert stored.name == "orders-secret-API_KEY" and stored.parent == s.named("orders").urn
    orders_policy = s.named("orders-agent-data").inputs["policy"]
    assert stored.outputs["arn"] in orders_policy
    assert "secretsmanager" not in s.named("emails-agent-data").inputs["policy"]


def test_a_preview_of_two_new_fleets_registers_the_same_resources() -> None:
    preview = synth_fleets("aws", TWO, preview=True)
    assert sorted(r.urn for r in preview.resources) == sorted(r.urn for r in fleets().resources)
