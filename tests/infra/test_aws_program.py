"""The whole AWS program: outputs, parenting, stable names, preview mode, and AWS's config limits."""

from __future__ import annotations

import dataclasses

import pytest

from agentfleet.components.fleet import TYPE_TOKEN
from agentfleet.components.problems import ConfigError
from agentfleet.providers import target
from agentfleet.providers.base import TargetMocks
from tests.infra.aws_helpers import aws_synth, user_data
from tests.infra.helpers import synth


def test_stack_outputs_are_the_contract() -> None:
    s = aws_synth()
    assert s.outputs == {
        "cloud": "aws",
        "queue": "moodring-queue",
        "dead_letter_queue": "moodring-dlq",
        "state_table": "moodring-state",
        "bucket": s.named("moodring-bucket").outputs["bucket"],
        "agent_group": "moodring-agents",
        "queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/moodring-queue",
        "region": "us-east-1",
    }


def test_every_resource_is_a_child_of_the_fleet_component() -> None:
    s = aws_synth({"state": {"cache": True}})
    component = s.one(TYPE_TOKEN)
    others = [r for r in s.resources if r is not component]
    assert others and all(r.parent == component.urn for r in others)


def test_names_derive_from_the_fleet_name() -> None:
    s = aws_synth({"name": "invoices"})
    assert s.outputs["queue"] == "invoices-queue"
    assert s.outputs["agent_group"] == "invoices-agents"
    assert all(r.name.startswith("invoices") for r in s.resources)


def test_account_global_names_carry_the_region_so_the_same_fleet_fits_in_two_regions() -> None:
    # IAM roles / instance profiles and CloudWatch dashboards are global to the account: the same
    # fleet in a second region must not collide with (or silently overwrite) the first one's.
    global_names = {
        ("aws:iam/role:Role", "name"),
        ("aws:iam/instanceProfile:InstanceProfile", "name"),
        ("aws:cloudwatch/dashboard:Dashboard", "dashboardName"),
    }
    east = aws_synth()
    west = synth("aws", {}, **{"aws:region": "eu-west-1"})
    for typ, key in global_names:
        assert east.one(typ).inputs[key].endswith("-us-east-1")
        assert west.one(typ).inputs[key].endswith("-eu-west-1")
    assert east.one("aws:iam/role:Role").inputs["name"] == "moodring-agent-us-east-1"
    assert (
        east.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardName"]
        == "agentfleet-moodring-us-east-1"
    )


def test_only_the_aws_sdk_is_used() -> None:
    s = aws_synth()
    assert {r.type.split(":")[0] for r in s.resources} == {"agentfleet", "aws"}


def test_preview_with_unknown_outputs_does_not_crash() -> None:
    s = aws_synth({"state": {"cache": True}, "compute": {"spot": True}}, preview=True)
    assert s.one("aws:autoscaling/group:Group").inputs["name"] == "moodring-agents"
    assert len(s.resources) == len(aws_synth({"state": {"cache": True}, "compute": {"spot": True}}).resources)


def test_preview_where_the_cloud_computes_every_output_still_registers_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As `pulumi preview` of a new stack sees it: no ARN, URL, id-derived value is known yet, so
    # no apply runs. Every resource must still be registered (nothing hidden inside an apply).
    import agentfleet.providers.aws as aws_target

    real = aws_target.TARGET.mocks

    def nothing_computed(typ: str, name: str, inputs: dict, config: dict) -> tuple:  # type: ignore[type-arg]
        return real.resource_outputs(typ, name, inputs, config)[0], {}

    fleet = {"state": {"cache": True}, "compute": {"spot": True}}
    full = aws_synth(fleet)
    blind = dataclasses.replace(aws_target.TARGET, mocks=TargetMocks(nothing_computed, real.invoke))
    monkeypatch.setattr(aws_target, "TARGET", blind)
    target.cache_clear()
    try:
        preview = synth("aws", fleet, preview=True)
    finally:
        target.cache_clear()
    assert sorted(r.name for r in preview.resources) == sorted(r.name for r in full.resources)
    assert preview.outputs == {}  # nothing resolved, nothing crashed


@pytest.mark.parametrize(
    ("fleet", "message"),
    [
        (
            {"name": "sg-pricing"},
            "agentfleet: fleet.name='sg-pricing' must not start with 'sg-' on AWS: it names the agents' "
            "security group, and EC2 reserves that prefix for security group ids",
        ),
        (
            {"name": "price--bot", "state": {"cache": True}},
            "agentfleet: fleet.name='price--bot' must not end with '-' or contain '--' on AWS with "
            "state.cache: it names the ElastiCache replication group (price--bot-cache), whose id may not "
            "contain two hyphens in a row",
        ),
        (
            {"name": "pricing-", "state": {"cache": True}},
            "agentfleet: fleet.name='pricing-' must not end with '-' or contain '--' on AWS with "
            "state.cache: it names the ElastiCache replication group (pricing--cache), whose id may not "
            "contain two hyphens in a row",
        ),
        (
            {"name": "sthree-agents"},
            "agentfleet: fleet.name='sthree-agents' must not start with 'sthree-' on AWS with state.bucket: "
            "it begins the S3 bucket name, and S3 reserves that prefix",
        ),
    ],
)
def test_a_fleet_name_an_aws_resource_rejects_stops_the_program(fleet: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as err:
        synth("aws", fleet)
    assert str(err.value) == message


def test_a_double_hyphen_is_fine_on_aws_without_a_cache() -> None:
    s = synth("aws", {"name": "price--bot", "state": {"cache": False}})
    assert s.one("aws:autoscaling/group:Group").inputs["name"] == "price--bot-agents"


@pytest.mark.parametrize(
    ("fleet", "message"),
    [
        (
            {"queue": {"visibility_timeout_seconds": 50000}},
            "agentfleet: fleet.queue.visibility_timeout_seconds=50000 must be <= 43200 "
            "(SQS's 12-hour visibility limit)",
        ),
        (
            {"queue": {"retention_seconds": 2_000_000}},
            "agentfleet: fleet.queue.retention_seconds=2000000 must be between 60 and 1209600 "
            "(SQS: 60 s to 14 days)",
        ),
        (
            {"queue": {"max_receive_count": 1001}},
            "agentfleet: fleet.queue.max_receive_count=1001 must be between 1 and 1000 (SQS redrive policy)",
        ),
        (
            {"agent": {"drain_timeout_seconds": 7171}},
            "agentfleet: fleet.agent.drain_timeout_seconds=7171 must be <= 7170 on AWS: "
            "the termination lifecycle hook's heartbeat (drain + 30 s) may be at most 7200 s",
        ),
        (
            {"aws": {"instance_type": "mac2.metal"}},
            "agentfleet: fleet.aws.instance_type='mac2.metal' must not be a Mac instance type: "
            "those run only on Dedicated Hosts, which an Auto Scaling group of agents cannot allocate "
            "(and Spot does not offer)",
        ),
    ],
)
def test_aws_limits_stop_the_program_with_one_message(fleet: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as err:
        synth("aws", fleet)
    assert str(err.value) == message


def test_every_aws_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        synth("aws", {"queue": {"visibility_timeout_seconds": 50000, "max_receive_count": 5000}})
    assert [p.field for p in err.value.problems] == [
        "fleet.queue.visibility_timeout_seconds",
        "fleet.queue.max_receive_count",
    ]


def test_an_environment_too_big_for_ec2_user_data_is_refused_before_anything_is_created() -> None:
    env = {f"VAR_{i:02d}": "x" * 100 for i in range(80)}  # 80 lines of 108 bytes = 8640 bytes
    with pytest.raises(ConfigError) as err:
        synth("aws", {"agent": {"env": env}})
    assert str(err.value) == (
        "agentfleet: fleet.agent.env=8640 (bytes of KEY=VALUE lines) must be <= 8192 on AWS: "
        "EC2 user data is limited to 16384 bytes and the agent's own setup uses the rest"
    )


def test_the_largest_allowed_environment_still_fits_ec2_user_data() -> None:
    env = {f"VAR_{i:02d}": "x" * 94 for i in range(80)}  # 80 lines of 102 bytes = 8160 bytes
    s = synth("aws", {"agent": {"env": env}, "state": {"cache": True}})
    assert len(user_data(s).encode()) <= 16_384
