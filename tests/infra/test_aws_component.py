"""`ScalableAgentFleet` in a user's own program: an explicit provider, and values from other resources.

Each test runs its own Pulumi program under the AWS mocks (aws_helpers.run_program), which answer
every invoke and resource for the region of the provider it went through.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
import yaml

from agentfleet.components.fleet import FleetArgs, ScalableAgentFleet
from agentfleet.components.network import FleetNetwork
from agentfleet.components.problems import ConfigError
from agentfleet.components.schema import FleetConfig
from agentfleet.components.validation import load_fleet_config
from agentfleet.providers.base import FleetInputs
from agentfleet.providers.cloudinit import ENV_FILE
from agentfleet.synth import Synthesis
from tests.infra.aws_helpers import ACCOUNT, run_program, statements
from tests.infra.helpers import BASE_FLEET, deep_merge

#: The stack's own region; the explicit provider of the tests is elsewhere.
STACK = {"agentfleet:cloud": "aws", "aws:region": "eu-west-1"}
#: A config image the inputs replace: it must be nowhere in what the program registers.
PLACEHOLDER = "ghcr.io/acme/placeholder:0.0.1"


def fleet_config(name: str = "pricing", **override: Any) -> FleetConfig:
    return load_fleet_config("aws", deep_merge(BASE_FLEET, {"name": name, **override}))


def launch_user_data(s: Synthesis, fleet: str) -> str:
    template = s.named(f"{fleet}-agent-template")
    return base64.b64decode(template.inputs["userData"]).decode()


def agent_env(s: Synthesis, fleet: str) -> dict[str, str]:
    files = {f["path"]: f["content"] for f in yaml.safe_load(launch_user_data(s, fleet))["write_files"]}
    return dict(line.split("=", 1) for line in files[ENV_FILE].splitlines())


# -- an explicit provider ------------------------------------------------------------------------


def west_program() -> pulumi.Output[Any]:
    west = aws.Provider("us-west-2", region="us-west-2")
    fleet = ScalableAgentFleet(
        "pricing",
        FleetArgs(cloud="aws", config=fleet_config()),
        opts=pulumi.ResourceOptions(providers={"aws": west}),
    )
    return pulumi.Output.all(region=fleet.send_work["region"], url=fleet.send_work["queue_url"])


def test_an_explicit_provider_decides_the_region_of_every_name() -> None:
    # The evidence: with providers={"aws": us_west_2} the role came out pricing-agent-eu-west-1.
    run = run_program(west_program, STACK)
    s, outputs = run.synthesis, run.value
    assert s.one("aws:iam/role:Role").inputs["name"] == "pricing-agent-us-west-2"
    assert s.one("aws:iam/instanceProfile:InstanceProfile").inputs["name"] == "pricing-agent-us-west-2"
    assert (
        s.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardName"] == "agentfleet-pricing-us-west-2"
    )
    assert outputs["region"] == "us-west-2"
    assert outputs["url"].startswith("https://sqs.us-west-2.amazonaws.com/")
    endpoints = {e.inputs["serviceName"] for e in s.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")}
    assert endpoints == {f"com.amazonaws.us-west-2.{svc}" for svc in ("s3", "dynamodb", "sqs")}
    zones = {r.inputs["availabilityZone"] for r in s.of_type("aws:ec2/subnet:Subnet")}
    assert zones == {"us-west-2a", "us-west-2b"}
    assert agent_env(s, "pricing")["AGENTFLEET_REGION"] == "us-west-2"
    assert "eu-west-1" not in json.dumps([r.inputs for r in s.resources])


def test_an_explicit_provider_needs_no_aws_region_in_the_stack_config() -> None:
    # The region is the provider's to hold: without one the check still names aws:region.
    run = run_program(west_program, {"agentfleet:cloud": "aws"})
    assert run.synthesis.one("aws:iam/role:Role").inputs["name"] == "pricing-agent-us-west-2"

    def default_provider_program() -> pulumi.Output[Any]:
        fleet = ScalableAgentFleet("pricing", FleetArgs(cloud="aws", config=fleet_config()))
        return fleet.queue

    with pytest.raises(ConfigError, match="aws:region must be set"):
        run_program(default_provider_program, {"agentfleet:cloud": "aws"})


def test_every_invoke_goes_through_the_explicit_provider() -> None:
    run = run_program(west_program, STACK)
    s = run.synthesis
    provider = s.one("pulumi:providers:aws")
    tokens = {token for token, _ in run.invoke_providers}
    assert {"aws:index/getRegion:getRegion", "aws:index/getAvailabilityZones:getAvailabilityZones"} <= tokens
    assert {used for _, used in run.invoke_providers} == {provider.id}
    # Every resource under the component inherits the provider too.
    custom = [r for r in s.resources if r.custom and r.type != "pulumi:providers:aws"]
    assert custom and {r.provider.rpartition("::")[2] for r in custom} == {provider.id}


def test_without_an_explicit_provider_the_stack_region_is_used() -> None:
    def program() -> pulumi.Output[Any]:
        fleet = ScalableAgentFleet("pricing", FleetArgs(cloud="aws", config=fleet_config()))
        return fleet.send_work["region"]

    run = run_program(program, STACK)
    s = run.synthesis
    assert run.value == "eu-west-1"
    assert s.one("aws:iam/role:Role").inputs["name"] == "pricing-agent-eu-west-1"


# -- values from other resources (FleetInputs) ----------------------------------------------------


def image_program() -> pulumi.Output[Any]:
    repo = aws.ecr.Repository("agent-repo", name="pricing-agent")
    image = repo.repository_url.apply(lambda url: f"{url}:2.0.1")
    fleet = ScalableAgentFleet(
        "pricing",
        FleetArgs(
            cloud="aws", config=fleet_config(agent={"image": PLACEHOLDER}), inputs=FleetInputs(image=image)
        ),
    )
    return pulumi.Output.all(image=image, repository=repo.arn, group=fleet.agent_group)


def test_an_image_from_another_resource_is_what_agents_run_and_may_pull() -> None:
    run = run_program(image_program, STACK)
    s, values = run.synthesis, run.value
    image = values["image"]
    assert image == f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/pricing-agent:2.0.1"
    user_data = launch_user_data(s, "pricing")
    assert image in user_data
    # The ECR login and the pull grant follow from the image's string once it resolves.
    assert (
        f"docker login --username AWS --password-stdin {ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com" in user_data
    )
    pull = [st for st in statements(s.named("pricing-agent-data")) if st.get("Sid") == "PullImage"]
    assert [st["Resource"] for st in pull] == [values["repository"]]
    assert image in s.named("pricing-agent-template").inputs["description"]
    assert PLACEHOLDER not in json.dumps([r.inputs for r in s.resources]) + user_data


def test_an_image_unknown_in_a_preview_still_registers_the_fleet() -> None:
    run = run_program(image_program, STACK, preview=True)
    assert run.synthesis.named("pricing-agent-template").inputs["name"] == "pricing-agent"
    assert run.synthesis.named("pricing-agents").inputs["name"] == "pricing-agents"


def team_network() -> tuple[aws.ec2.Vpc, list[aws.ec2.Subnet]]:
    vpc = aws.ec2.Vpc("team-vpc", cidr_block="10.8.0.0/16")
    subnets = [
        aws.ec2.Subnet(
            f"team-private-{zone}", vpc_id=vpc.id, cidr_block=cidr, availability_zone=f"eu-west-1{zone}"
        )
        for zone, cidr in (("a", "10.8.0.0/20"), ("b", "10.8.16.0/20"))
    ]
    return vpc, subnets


def test_a_vpc_and_subnets_from_other_resources_hold_the_agents() -> None:
    def program() -> pulumi.Output[Any]:
        vpc, subnets = team_network()
        ScalableAgentFleet(
            "pricing",
            FleetArgs(
                cloud="aws",
                config=fleet_config(),
                inputs=FleetInputs(network_id=vpc.id, subnet_ids=[s.id for s in subnets]),
            ),
        )
        return pulumi.Output.all(vpc=vpc.id, subnets=pulumi.Output.all(*[s.id for s in subnets]))

    run = run_program(program, STACK)
    s, ids = run.synthesis, run.value
    assert [v.name for v in s.of_type("aws:ec2/vpc:Vpc")] == ["team-vpc"]
    assert s.of_type("aws:ec2/natGateway:NatGateway") == []
    assert s.named("pricing-agents").inputs["vpcZoneIdentifiers"] == ids["subnets"]
    assert s.named("pricing-agents-sg").inputs["vpcId"] == ids["vpc"]


def test_subnets_as_one_output_list_and_a_shared_network_from_inputs() -> None:
    def program() -> pulumi.Output[Any]:
        vpc, subnets = team_network()
        subnet_ids = pulumi.Output.all(*[s.id for s in subnets])
        network = FleetNetwork(
            "team", "aws", fleet_config("orders"), FleetInputs(network_id=vpc.id, subnet_ids=subnet_ids)
        )
        for name in ("orders", "emails"):
            ScalableAgentFleet(name, FleetArgs(cloud="aws", config=fleet_config(name), network=network))
        return pulumi.Output.all(vpc=vpc.id, subnets=subnet_ids)

    run = run_program(program, STACK)
    s, ids = run.synthesis, run.value
    assert [v.name for v in s.of_type("aws:ec2/vpc:Vpc")] == ["team-vpc"]
    for fleet in ("orders", "emails"):
        assert s.named(f"{fleet}-agents").inputs["vpcZoneIdentifiers"] == ids["subnets"]
        assert s.named(f"{fleet}-agents-sg").inputs["vpcId"] == ids["vpc"]


def test_a_new_shared_network_is_named_after_its_component() -> None:
    def program() -> pulumi.Output[Any]:
        network = FleetNetwork("team", "aws", fleet_config("orders"))
        fleet = ScalableAgentFleet(
            "orders", FleetArgs(cloud="aws", config=fleet_config("orders"), network=network)
        )
        return fleet.agent_group

    s = run_program(program, STACK).synthesis
    assert s.one("aws:ec2/vpc:Vpc").name == "team-vpc"
    assert s.one("aws:ec2/natGateway:NatGateway").name == "team-nat"


def test_a_vpc_without_its_subnets_is_an_error_naming_the_missing_input() -> None:
    def program() -> pulumi.Output[Any]:
        vpc, _ = team_network()
        fleet = ScalableAgentFleet(
            "pricing", FleetArgs(cloud="aws", config=fleet_config(), inputs=FleetInputs(network_id=vpc.id))
        )
        return fleet.agent_group

    with pytest.raises(ConfigError) as raised:
        run_program(program, STACK)
    assert str(raised.value).startswith("agentfleet: inputs.subnet_ids is required with inputs.network_id")


def test_a_fleet_in_a_shared_network_takes_no_network_inputs_of_its_own() -> None:
    def program() -> pulumi.Output[Any]:
        vpc, subnets = team_network()
        network = FleetNetwork("team", "aws", fleet_config("orders"))
        inputs = FleetInputs(network_id=vpc.id, subnet_ids=[s.id for s in subnets])
        fleet = ScalableAgentFleet(
            "orders", FleetArgs(cloud="aws", config=fleet_config("orders"), network=network, inputs=inputs)
        )
        return fleet.agent_group

    with pytest.raises(ConfigError) as raised:
        run_program(program, STACK)
    assert "inputs.network_id" in str(raised.value) and "pass it to the FleetNetwork" in str(raised.value)
