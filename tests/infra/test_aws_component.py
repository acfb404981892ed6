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
import yaml

from agentfleet.components.fleet import FleetArgs, ScalableAgentFleet
from agentfleet.components.schema import FleetConfig
from agentfleet.components.validation import load_fleet_config
from agentfleet.providers.cloudinit import ENV_FILE
from agentfleet.synth import Synthesis
from tests.infra.aws_helpers import run_program
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
