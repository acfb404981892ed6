"""Launch template + Auto Scaling group: the agents, their health, warm-up, refresh and Spot."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from agentfleet.agent import contract
from agentfleet.providers.aws.compute import spot_instance_types
from agentfleet.providers.aws.settings import architecture
from agentfleet.providers.aws.userdata import ecr_image, mark_unhealthy_command
from agentfleet.providers.cloudinit import AGENT_UNIT, HEALTH_SCRIPT, LOGIN_SCRIPT, MAY_START_SCRIPT
from tests.infra.aws_helpers import agent_env, aws_synth, user_data, write_files
from tests.infra.shell_fakes import run_with_fakes
from tests.peer_check import require_peer

GROUP = "aws:autoscaling/group:Group"
TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"


def test_group_never_sets_desired_capacity_so_pulumi_up_keeps_the_autoscalers_choice() -> None:
    group = aws_synth().one(GROUP)
    assert "desiredCapacity" not in group.inputs or "desiredCapacity" in group.ignore_changes


def test_min_max_and_warmup_flow_from_config() -> None:
    group = (
        aws_synth({"scaling": {"min_agents": 2, "max_agents": 17, "warmup_seconds": 240}}).one(GROUP).inputs
    )
    assert (group["minSize"], group["maxSize"]) == (2, 17)
    assert group["healthCheckGracePeriod"] == 240
    assert group["defaultInstanceWarmup"] == 240
    assert group["instanceRefresh"]["preferences"]["instanceWarmup"] == "240"


def test_group_is_named_for_the_fleet_and_spans_the_private_subnets() -> None:
    s = aws_synth()
    group = s.one(GROUP)
    assert group.inputs["name"] == "moodring-agents"
    private = {s.named(f"moodring-private-{i}").id for i in (1, 2)}
    assert set(group.inputs["vpcZoneIdentifiers"]) == private


def test_group_collects_the_in_service_metric_the_scaling_policy_divides_by() -> None:
    group = aws_synth().one(GROUP).inputs
    assert group["metricsGranularity"] == "1Minute"
    assert "GroupInServiceInstances" in group["enabledMetrics"]


def test_group_runs_the_latest_template_version_and_refreshes_without_losing_capacity() -> None:
    s = aws_synth()
    group, template = s.one(GROUP).inputs, s.one(TEMPLATE)
    assert group["launchTemplate"] == {"id": template.id, "version": str(template.outputs["latestVersion"])}
    refresh = group["instanceRefresh"]
    assert refresh["strategy"] == "Rolling"
    assert refresh["preferences"]["minHealthyPercentage"] == 100
    assert refresh["preferences"]["maxHealthyPercentage"] > 100


def test_instance_refresh_waits_for_busy_agents_instead_of_skipping_or_killing_them() -> None:
    # The provider's default is Ignore (busy agents keep the old template); Refresh would kill them.
    preferences = aws_synth().one(GROUP).inputs["instanceRefresh"]["preferences"]
    assert preferences["scaleInProtectedInstances"] == "Wait"


def test_group_waits_for_the_data_policy_so_the_first_agent_has_its_permissions() -> None:
    s = aws_synth()
    assert s.named("moodring-agent-data").urn in s.one(GROUP).depends_on


def test_on_demand_fleet_has_no_mixed_instances_policy() -> None:
    group = aws_synth().one(GROUP).inputs
    assert "mixedInstancesPolicy" not in group
    assert group.get("capacityRebalance") is False


def test_spot_uses_a_mixed_instances_policy_with_capacity_rebalance() -> None:
    s = aws_synth({"compute": {"spot": True}, "aws": {"instance_type": "m6i.large"}})
    group, template = s.one(GROUP).inputs, s.one(TEMPLATE)
    assert "launchTemplate" not in group
    assert group["capacityRebalance"] is True
    mixed = group["mixedInstancesPolicy"]
    assert mixed["launchTemplate"]["launchTemplateSpecification"]["launchTemplateId"] == template.id
    assert [o["instanceType"] for o in mixed["launchTemplate"]["overrides"]] == [
        "m6i.large", "m5.large", "m5a.large", "m6a.large", "m7i.large", "m7a.large"
    ]  # fmt: skip
    dist = mixed["instancesDistribution"]
    assert dist["onDemandPercentageAboveBaseCapacity"] == 0
    assert dist["onDemandBaseCapacity"] == 0
    assert dist["spotAllocationStrategy"] == "price-capacity-optimized"


def test_launch_template_requires_imdsv2_and_gives_no_public_ip() -> None:
    s = aws_synth()
    t = s.one(TEMPLATE).inputs
    assert t["metadataOptions"]["httpTokens"] == "required"
    assert t["metadataOptions"]["httpPutResponseHopLimit"] == 2  # the container is one hop behind the host
    (nic,) = t["networkInterfaces"]
    assert nic["associatePublicIpAddress"] == "false"
    assert nic["securityGroups"] == [s.named("moodring-agents-sg").id]
    assert t["iamInstanceProfile"]["arn"] == s.named("moodring-agent-profile").outputs["arn"]
    assert t["blockDeviceMappings"][0]["ebs"]["encrypted"] == "true"


def test_unpinned_template_names_al2023s_ssm_parameter_so_a_new_ami_changes_nothing() -> None:
    # The template holds the parameter, resolved by EC2 at each launch: a new AL2023 release changes
    # nothing Pulumi sends, so no `pulumi up` rolls the fleet for it (an AMI id looked up at deploy
    # time changed the template, and the instance refresh replaced every agent).
    s = aws_synth({"aws": {"instance_type": "t4g.small"}})
    template = s.one(TEMPLATE).inputs
    assert (
        template["imageId"]
        == "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
    )
    assert template["instanceType"] == "t4g.small"
    assert not [token for token, _ in s.invokes if token == "aws:ec2/getAmi:getAmi"]
    x86 = aws_synth().one(TEMPLATE).inputs["imageId"]
    assert x86 == "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"


def test_a_pinned_ami_is_what_the_template_launches() -> None:
    template = aws_synth({"aws": {"ami_id": "ami-0123456789abcdef0"}}).one(TEMPLATE)
    assert template.inputs["imageId"] == "ami-0123456789abcdef0"
    assert "imageId" not in template.ignore_changes  # changing the pin is a rollout


def test_detailed_monitoring_is_off() -> None:
    # Nothing reads per-instance one-minute EC2 metrics; detailed monitoring bills them.
    assert aws_synth().one(TEMPLATE).inputs["monitoring"] == {"enabled": False}


def test_spot_fleet_takes_an_on_demand_base_and_the_users_instance_types() -> None:
    s = aws_synth(
        {
            "compute": {"spot": True},
            "aws": {"instance_type": "c7i.large", "on_demand_base": 2,
                    "spot_instance_types": ["c7i.large", "c6i.large", "m7i.large"]},
        }
    )  # fmt: skip
    mixed = s.one(GROUP).inputs["mixedInstancesPolicy"]
    assert [o["instanceType"] for o in mixed["launchTemplate"]["overrides"]] == [
        "c7i.large", "c6i.large", "m7i.large"
    ]  # fmt: skip
    assert mixed["instancesDistribution"]["onDemandBaseCapacity"] == 2
    assert mixed["instancesDistribution"]["onDemandPercentageAboveBaseCapacity"] == 0


@pytest.mark.parametrize(
    ("instance_type", "arch"),
    [("t3.small", "x86_64"), ("t4g.small", "arm64"), ("c7gn.large", "arm64"), ("m6gd.xlarge", "arm64"),
     ("g4dn.xlarge", "x86_64"), ("m7i-flex.large", "x86_64"), ("g5g.xlarge", "arm64")],
)  # fmt: skip
def test_architecture_follows_the_instance_family(instance_type: str, arch: str) -> None:
    assert architecture(instance_type) == arch


def test_spot_spreads_over_every_sibling_family_of_the_same_shape_and_architecture() -> None:
    assert spot_instance_types("t3.small") == ["t3.small", "t3a.small"]
    assert spot_instance_types("t4g.small") == ["t4g.small"]
    assert spot_instance_types("c7g.large") == ["c7g.large", "c6g.large"]
    assert spot_instance_types("r5a.xlarge") == [
        "r5a.xlarge", "r5.xlarge", "r6i.xlarge", "r6a.xlarge", "r7i.xlarge", "r7a.xlarge"
    ]  # fmt: skip
    for instance_type in ("m5.large", "c6a.4xlarge", "r7g.medium", "t3a.medium"):
        assert {architecture(t) for t in spot_instance_types(instance_type)} == {architecture(instance_type)}


@pytest.mark.parametrize(
    "instance_type",
    # c5a has no 9xlarge/18xlarge, c5 no 8xlarge; m6i/c6i/r6i stop at 32xlarge; m7i/c7i have no
    # medium; m5a has no metal: Auto Scaling refuses an override naming a type that does not exist.
    ["c5.9xlarge", "c5a.8xlarge", "m6a.48xlarge", "c6a.48xlarge", "m7a.medium", "c7a.medium", "m5.metal"],
)
def test_no_sibling_for_a_size_a_sibling_family_does_not_offer(instance_type: str) -> None:
    assert spot_instance_types(instance_type) == [instance_type]


def test_launch_template_description_fits_ec2s_255_characters_for_a_long_image() -> None:
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/" + "team/" * 30 + "agent@sha256:" + "a" * 64
    description = aws_synth({"agent": {"image": image}}).one(TEMPLATE).inputs["description"]
    assert len(description) == 255
    assert description.startswith("agentfleet moodring agent running 123456789012.dkr.ecr.")


def test_group_waits_for_the_private_routes_and_endpoints_so_the_first_agent_can_pull_its_image() -> None:
    s = aws_synth()
    depends = s.one(GROUP).depends_on
    for name in ("moodring-private-1-rt", "moodring-private-2-rt", "moodring-s3-endpoint",
                 "moodring-dynamodb-endpoint", "moodring-sqs-endpoint"):  # fmt: skip
        assert s.named(name).urn in depends, name


def test_agent_environment_is_the_contract_with_this_fleets_resources() -> None:
    s = aws_synth({"state": {"cache": True}})
    env = agent_env(s)
    assert env[contract.BACKEND] == "sqs"
    assert env[contract.QUEUE] == s.named("moodring-queue").outputs["url"]
    assert env[contract.DEAD_LETTER_QUEUE] == s.named("moodring-dlq").outputs["url"]
    assert env[contract.STATE] == s.named("moodring-state").outputs["name"]
    assert env[contract.BUCKET] == s.named("moodring-bucket").outputs["bucket"]
    assert (
        env[contract.CACHE] == f"rediss://{s.named('moodring-cache').outputs['primaryEndpointAddress']}:6379"
    )
    assert env[contract.REGION] == "us-east-1"
    assert env[contract.LIFECYCLE] == "aws-asg"
    assert env[contract.PROTECTION] == "aws-asg"  # a busy agent protects its instance from scale-in
    assert env[contract.GROUP] == s.one(GROUP).inputs["name"]
    assert env[contract.LIFECYCLE_HOOK] == s.one("aws:autoscaling/lifecycleHook:LifecycleHook").inputs["name"]
    assert env[contract.HANDLER] == "moodring.agent:handle"


def test_agent_environment_leaves_out_state_the_config_disables() -> None:
    env = agent_env(aws_synth({"state": {"table": False, "bucket": False}}))
    assert contract.STATE not in env and contract.BUCKET not in env and contract.CACHE not in env


def test_user_environment_and_numbers_reach_the_container() -> None:
    env = agent_env(aws_synth({"agent": {"env": {"LOG_LEVEL": "debug"}, "concurrency": 3, "port": 9090}}))
    assert env["LOG_LEVEL"] == "debug"
    assert env[contract.CONCURRENCY] == "3"
    assert env[contract.PORT] == "9090"


def test_container_gets_its_drain_time_and_logs_to_the_fleets_log_group() -> None:
    s = aws_synth({"agent": {"drain_timeout_seconds": 200}})
    unit = write_files(s)[f"/etc/systemd/system/{AGENT_UNIT}"]
    assert "docker stop --time 200 " in unit
    assert "--log-driver awslogs" in unit
    assert f"awslogs-group={s.one('aws:cloudwatch/logGroup:LogGroup').inputs['name']}" in unit


def test_failing_healthz_marks_the_instance_unhealthy_in_its_group() -> None:
    script = write_files(aws_synth({"scaling": {"warmup_seconds": 120}}))[HEALTH_SCRIPT]
    assert "aws autoscaling set-instance-health --region us-east-1" in script
    assert "--health-status Unhealthy" in script
    assert "sleep 120" in script  # not probed during warm-up


@pytest.mark.peer
def test_user_data_passes_cloud_init_schema(tmp_path: Path) -> None:
    require_peer(shutil.which("cloud-init") is not None, "cloud-init")
    path = tmp_path / "user-data"
    ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com/moodring:1"
    path.write_text(
        user_data(aws_synth({"state": {"cache": True}, "compute": {"spot": True}, "agent": {"image": ecr}}))
    )
    result = subprocess.run(
        ["cloud-init", "schema", "-c", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_configured_image_is_what_every_agent_runs() -> None:
    s = aws_synth({"agent": {"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/moodring:2.0.0"}})
    unit = write_files(s)[f"/etc/systemd/system/{AGENT_UNIT}"]
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert exec_start.endswith(" 123456789012.dkr.ecr.us-east-1.amazonaws.com/moodring:2.0.0")
    assert "2.0.0" in s.one(TEMPLATE).inputs["description"]


def test_an_ecr_image_is_pulled_after_a_docker_login_to_its_registry() -> None:
    s = aws_synth({"agent": {"image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/moodring:2.0.0"}})
    files = write_files(s)
    login = files[LOGIN_SCRIPT]
    assert (
        "aws ecr get-login-password --region eu-west-1 | "
        "docker login --username AWS --password-stdin 123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    ) in login
    unit = files[f"/etc/systemd/system/{AGENT_UNIT}"]
    assert f"ExecStartPre={LOGIN_SCRIPT}" in unit
    assert unit.index(f"ExecStartPre={LOGIN_SCRIPT}") < unit.index("ExecStart=/usr/bin/docker run")


def test_a_public_image_needs_no_login() -> None:
    assert LOGIN_SCRIPT not in write_files(aws_synth())


@pytest.mark.parametrize(
    ("image", "repository_arn"),
    [
        (
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/a/b:1",
            "arn:aws:ecr:us-east-1:123456789012:repository/a/b",
        ),
        (
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/x@sha256:ab",
            "arn:aws-cn:ecr:cn-north-1:123456789012:repository/x",
        ),
        ("ghcr.io/acme/agent:1", None),
        ("public.ecr.aws/acme/agent:1", None),
    ],
)
def test_ecr_images_are_recognised(image: str, repository_arn: str | None) -> None:
    ecr = ecr_image(image)
    assert (ecr.repository_arn if ecr else None) == repository_arn


def imds_curl(path: str, answer: str, log: Path | None = None) -> str:
    """A fake curl speaking IMDSv2: a PUT gives the session token, a GET of `path` with that token
    runs the shell `answer`, anything else fails as curl does on an HTTP error."""
    record = f'echo "curl $*" >> {log}\n' if log else ""
    return f"""{record}case "$*" in
  *"-X PUT"*api/token*) echo TOKEN123 ;;
  *"X-aws-ec2-metadata-token: TOKEN123"*{path}*) {answer} ;;
  *) exit 22 ;;
esac"""


def test_mark_unhealthy_finds_its_instance_through_imdsv2_and_tells_its_group(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    fakes = {
        "curl": imds_curl("meta-data/instance-id", "echo i-0abc123def4567890", log),
        "aws": f'echo "aws $*" >> {log}',
    }
    result = run_with_fakes(tmp_path, mark_unhealthy_command("eu-central-1"), fakes)
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    assert calls[-1] == (
        "aws autoscaling set-instance-health --region eu-central-1 --instance-id i-0abc123def4567890 "
        "--health-status Unhealthy --should-respect-grace-period"
    )


@pytest.mark.parametrize(
    ("lifecycle_state", "may_start"),
    [("Terminated", False), ("InService", True), (None, True)],  # None: IMDS does not answer
)
def test_the_agent_is_not_started_again_once_its_instance_is_being_terminated(
    tmp_path: Path, lifecycle_state: str | None, may_start: bool
) -> None:
    # After a drain that timed out (exit 1) systemd restarts the unit; on an instance in
    # Terminating:Wait the start must be skipped, or the new agent leases messages it cannot finish.
    files = write_files(aws_synth())
    assert f"ExecCondition={MAY_START_SCRIPT}" in files[f"/etc/systemd/system/{AGENT_UNIT}"]
    answer = "exit 7" if lifecycle_state is None else f"echo {lifecycle_state}"
    curl = imds_curl("meta-data/autoscaling/target-lifecycle-state", answer)
    result = run_with_fakes(tmp_path, files[MAY_START_SCRIPT], {"curl": curl})
    assert result.returncode == (0 if may_start else 1), result.stderr
