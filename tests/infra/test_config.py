"""The neutral config contract (docs/DESIGN.md): defaults, and one exact message per bad value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agentfleet.components.problems import ConfigError
from agentfleet.components.schema import FleetConfig
from agentfleet.components.validation import load_fleet_config, parse_fleet
from agentfleet.providers.aws.settings import AwsSettings
from tests.infra.helpers import BASE_FLEET, deep_merge

ROOT = Path(__file__).resolve().parents[2]


def fleet(override: dict[str, Any] | None = None) -> dict[str, Any]:
    return deep_merge(BASE_FLEET, override or {})


def error_of(cloud: str | None, raw: Any) -> str:
    with pytest.raises(ConfigError) as err:
        load_fleet_config(cloud, raw)
    return str(err.value)


def test_defaults_are_the_design_contract() -> None:
    c = parse_fleet({"name": "moodring", "agent": {"image": "ghcr.io/acme/a:1"}})
    assert (c.agent.port, c.agent.concurrency, c.agent.drain_timeout_seconds, c.agent.env) == (
        8080,
        1,
        60,
        {},
    )
    assert c.agent.handler is None
    assert (c.queue.visibility_timeout_seconds, c.queue.max_receive_count, c.queue.retention_seconds) == (
        300,
        5,
        345_600,
    )
    s = c.scaling
    numbers = (
        s.min_agents,
        s.max_agents,
        s.target_backlog_per_agent,
        s.warmup_seconds,
        s.scale_in_cooldown_seconds,
    )
    assert numbers == (0, 10, 10, 90, 300)
    assert (c.state.table, c.state.bucket, c.state.cache, c.compute.spot) == (True, True, False, False)
    aws = c.settings_for(AwsSettings)
    assert (aws.instance_type, aws.vpc_id, aws.subnet_ids) == ("t3.small", None, None)


def test_the_dev_stack_is_a_valid_aws_config() -> None:
    raw = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    config = load_fleet_config(raw["agentfleet:cloud"], raw["agentfleet:fleet"])
    assert isinstance(config, FleetConfig)
    assert config.name == "moodring"


BAD: list[tuple[str | None, Any, str]] = [
    (
        "aws",
        fleet({"name": "Moodring"}),
        "agentfleet: fleet.name='Moodring' must be 3-24 chars: a lowercase letter first, then lowercase "
        "letters, digits or '-'",
    ),
    (
        "aws",
        fleet({"name": "ab"}),
        "agentfleet: fleet.name='ab' must be 3-24 chars: a lowercase letter first, then lowercase letters, "
        "digits or '-'",
    ),
    ("aws", fleet({"agent": {"image": ""}}), "agentfleet: fleet.agent.image='' must not be empty"),
    (
        "aws",
        fleet({"agent": {"image": "a b"}}),
        "agentfleet: fleet.agent.image='a b' must be a container image reference without spaces",
    ),
    ("aws", fleet({"agent": {"image": 5}}), "agentfleet: fleet.agent.image=5 must be a string"),
    (
        "aws",
        fleet({"agent": {"handler": "nocolon"}}),
        "agentfleet: fleet.agent.handler='nocolon' must be 'module:function', for example "
        "'moodring.agent:handle'",
    ),
    ("aws", fleet({"agent": {"port": 80}}), "agentfleet: fleet.agent.port=80 must be >= 1024"),
    ("aws", fleet({"agent": {"concurrency": 0}}), "agentfleet: fleet.agent.concurrency=0 must be >= 1"),
    (
        "aws",
        fleet({"agent": {"drain_timeout_seconds": 0}}),
        "agentfleet: fleet.agent.drain_timeout_seconds=0 must be >= 1",
    ),
    (
        "aws",
        fleet({"queue": {"max_receive_count": 0}}),
        "agentfleet: fleet.queue.max_receive_count=0 must be >= 1",
    ),
    (
        "aws",
        fleet({"queue": {"retention_seconds": 10}}),
        "agentfleet: fleet.queue.retention_seconds=10 must be >= 60",
    ),
    ("aws", fleet({"queue": []}), "agentfleet: fleet.queue=[] must be an object"),
    (
        "aws",
        fleet({"scaling": {"min_agents": 5, "max_agents": 2}}),
        "agentfleet: fleet.scaling.max_agents=2 must be >= min_agents (5)",
    ),
    ("aws", fleet({"scaling": {"max_agents": 0}}), "agentfleet: fleet.scaling.max_agents=0 must be >= 1"),
    (
        "aws",
        fleet({"scaling": {"max_agents": "ten"}}),
        "agentfleet: fleet.scaling.max_agents='ten' must be a whole number",
    ),
    (
        "aws",
        fleet({"scaling": {"max_agents": 2.5}}),
        "agentfleet: fleet.scaling.max_agents=2.5 must be a whole number",
    ),
    (
        "aws",
        fleet({"scaling": {"warmup_seconds": 4000}}),
        "agentfleet: fleet.scaling.warmup_seconds=4000 must be <= 3600",
    ),
    (
        "aws",
        fleet({"scaling": {"target_backlog_per_agent": 0}}),
        "agentfleet: fleet.scaling.target_backlog_per_agent=0 must be >= 1",
    ),
    (
        "aws",
        fleet({"scalling": {}}),
        "agentfleet: fleet.scalling={} is not a known key (check its spelling against docs/configuration.md)",
    ),
    (
        "aws",
        fleet({"state": {"cache": "maybe"}}),
        "agentfleet: fleet.state.cache='maybe' must be true or false",
    ),
    (
        "aws",
        fleet({"aws": {"vpc_id": "vpc-0abc12345def67890"}}),
        "agentfleet: fleet.aws.subnet_ids must be set together with vpc_id to use an existing network",
    ),
    (
        "aws",
        fleet({"aws": {"instance_type": "large"}}),
        "agentfleet: fleet.aws.instance_type='large' must be an EC2 instance type such as 't3.small'",
    ),
    (
        "aws",
        fleet({"aws": {"vpc_id": "vpc-0abc12345def67890", "subnet_ids": ["bad"]}}),
        "agentfleet: fleet.aws.subnet_ids=['bad'] entry 'bad' must be a subnet id such as "
        "'subnet-0abc12345def67890'",
    ),
    ("aws", None, "agentfleet: fleet must be set: add an agentfleet:fleet object to the config"),
    ("aws", "notamap", "agentfleet: fleet='notamap' must be an object with name, agent, queue, scaling, ..."),
    ("mars", fleet(), "agentfleet: cloud='mars' must be one of aws, azure, gcp (set agentfleet:cloud)"),
    (
        None,
        fleet(),
        "agentfleet: cloud must be set to one of aws, azure, gcp: pulumi config set agentfleet:cloud aws",
    ),
]


@pytest.mark.parametrize(("cloud", "raw", "message"), BAD, ids=[m.split("=")[0][12:] for _, _, m in BAD])
def test_bad_value_is_reported_with_field_value_and_what_is_allowed(
    cloud: str | None, raw: Any, message: str
) -> None:
    assert error_of(cloud, raw) == message


def test_every_bad_neutral_value_is_reported_at_once() -> None:
    message = error_of("aws", fleet({"agent": {"concurrency": 0}, "scaling": {"min_agents": -1}}))
    assert message.splitlines() == [
        "agentfleet: fleet.agent.concurrency=0 must be >= 1",
        "agentfleet: fleet.scaling.min_agents=-1 must be >= 0",
    ]


def test_reserved_environment_names_are_refused() -> None:
    message = error_of("aws", fleet({"agent": {"env": {"AGENTFLEET_QUEUE": "x"}}}))
    assert "key 'AGENTFLEET_QUEUE' must not start with AGENTFLEET_" in message


# Bugs once found in components/schema.py; kept as regression tests.


def test_missing_required_key_names_the_key_without_a_bogus_value() -> None:
    assert error_of("aws", {"agent": {"image": "x:1"}}) == "agentfleet: fleet.name is required"


def test_a_boolean_is_not_a_number() -> None:
    assert error_of("aws", fleet({"scaling": {"max_agents": True}})) == (
        "agentfleet: fleet.scaling.max_agents=true must be a whole number"
    )


def test_neutral_and_cloud_problems_are_reported_together() -> None:
    message = error_of(
        "aws", fleet({"agent": {"concurrency": 0}, "queue": {"visibility_timeout_seconds": 50000}})
    )
    assert (
        "fleet.agent.concurrency=0" in message and "fleet.queue.visibility_timeout_seconds=50000" in message
    )


@pytest.mark.parametrize("image", ["ghcr.io/acme/agent", "ghcr.io/acme/agent:latest", "localhost:5000/agent"])
def test_an_image_without_a_version_is_refused(image: str) -> None:
    # Every new machine would pull whatever the tag points to at its boot: one fleet, several versions.
    assert error_of("aws", fleet({"agent": {"image": image}})) == (
        f"agentfleet: fleet.agent.image='{image}' must name a version tag other than 'latest' or a digest "
        "(image:1.4.2 or image@sha256:...), so every agent runs the same image"
    )


@pytest.mark.parametrize(
    "image", ["ghcr.io/acme/agent:1.4.2", "localhost:5000/agent:2", "agent@sha256:" + "a" * 64]
)
def test_a_tag_or_a_digest_pins_the_image(image: str) -> None:
    assert load_fleet_config("aws", fleet({"agent": {"image": image}})).agent.image == image
