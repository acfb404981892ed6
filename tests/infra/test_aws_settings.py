"""The `fleet.aws` section and the AWS provider settings: what is refused before anything is created."""

from __future__ import annotations

from typing import Any

import pytest

from agentfleet.components.problems import ConfigError
from agentfleet.components.validation import load_fleet_config
from agentfleet.synth import synthesize
from tests.infra.helpers import BASE_FLEET, deep_merge, stack_config


def error_of(fleet: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_fleet_config("aws", deep_merge(BASE_FLEET, fleet))
    return str(caught.value)


def test_a_missing_region_is_a_config_error_not_a_default() -> None:
    config = stack_config("aws")
    del config["aws:region"]
    with pytest.raises(ConfigError) as caught:
        synthesize(config)
    assert str(caught.value) == (
        "agentfleet: aws:region must be set to an AWS region such as us-east-1 "
        "(pulumi config set aws:region us-east-1)"
    )


@pytest.mark.parametrize("instance_type", ["a1.large", "a1.metal"])
def test_a1_instances_are_refused_al2023_does_not_run_on_them(instance_type: str) -> None:
    message = error_of({"aws": {"instance_type": instance_type}})
    assert message.startswith(f"agentfleet: fleet.aws.instance_type='{instance_type}' must not be an a1")
    assert "Amazon Linux 2023" in message


def test_ami_id_must_be_an_ami_id() -> None:
    assert error_of({"aws": {"ami_id": "al2023"}}) == (
        "agentfleet: fleet.aws.ami_id='al2023' must be an AMI id such as 'ami-0f3c7d07486cad139'"
    )


def test_spot_keys_without_spot_are_refused() -> None:
    message = error_of({"aws": {"on_demand_base": 1, "spot_instance_types": ["t3.small"]}})
    assert message.splitlines() == [
        "agentfleet: fleet.aws.on_demand_base=1 is only used with compute.spot: true; remove it",
        "agentfleet: fleet.aws.spot_instance_types=['t3.small'] is only used with compute.spot: true; "
        "remove it",
    ]


def test_on_demand_base_is_within_the_fleet() -> None:
    assert error_of(
        {"compute": {"spot": True}, "scaling": {"max_agents": 3}, "aws": {"on_demand_base": 4}}
    ) == ("agentfleet: fleet.aws.on_demand_base=4 must be <= scaling.max_agents (3)")
    assert "on_demand_base=-1 must be >= 0" in error_of(
        {"compute": {"spot": True}, "aws": {"on_demand_base": -1}}
    )


def test_spot_instance_types_share_the_templates_architecture() -> None:
    message = error_of(
        {
            "compute": {"spot": True},
            "aws": {"instance_type": "m6i.large", "spot_instance_types": ["m6g.large"]},
        }
    )
    assert message == (
        "agentfleet: fleet.aws.spot_instance_types='m6g.large' must have the architecture of instance_type "
        "m6i.large (x86_64): the launch template's image is built for one"
    )


def test_spot_instance_types_are_checked_one_by_one() -> None:
    spot = {"compute": {"spot": True}}
    assert "entry 'large' must be an EC2 instance type" in error_of(
        {**spot, "aws": {"spot_instance_types": ["large"]}}
    )
    assert "must not name an instance type twice" in error_of(
        {**spot, "aws": {"spot_instance_types": ["t3.small", "t3.small"]}}
    )
    assert "must list 1 to 40 instance types" in error_of({**spot, "aws": {"spot_instance_types": []}})
    assert "must not be an a1" in error_of(
        {**spot, "aws": {"instance_type": "t4g.small", "spot_instance_types": ["a1.large"]}}
    )
