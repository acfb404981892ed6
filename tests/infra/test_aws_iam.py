"""The instance role: exactly this fleet's ARNs, no wildcard action, Resource "*" only where AWS has none."""

from __future__ import annotations

import json
from typing import Any

from agentfleet.synth import Synthesis
from tests.infra.aws_helpers import as_list, aws_synth, statements

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def by_sid(s: Synthesis, name: str) -> dict[str, dict[str, Any]]:
    return {st["Sid"]: st for st in statements(s.named(name))}


def test_data_policy_names_exactly_this_fleets_arns() -> None:
    s = aws_synth()
    st = by_sid(s, "moodring-agent-data")
    bucket = s.named("moodring-bucket").outputs["arn"]
    log_group = s.named("moodring-logs").outputs["arn"]
    assert st["ConsumeWork"]["Resource"] == s.named("moodring-queue").outputs["arn"]
    assert st["DeadLetter"]["Resource"] == s.named("moodring-dlq").outputs["arn"]
    assert st["State"]["Resource"] == s.named("moodring-state").outputs["arn"]
    assert st["Objects"]["Resource"] == f"{bucket}/*"
    assert st["ListObjects"]["Resource"] == bucket
    assert st["Logs"]["Resource"] == [log_group, f"{log_group}:log-stream:*"]
    assert "sqs:DeleteMessage" in st["ConsumeWork"]["Action"]
    assert "sqs:SendMessage" not in st["ConsumeWork"]["Action"]  # agents consume; only the DLQ is written
    assert st["DeadLetter"]["Action"][0] == "sqs:SendMessage"


def test_data_policy_is_attached_to_the_instance_profiles_role() -> None:
    s = aws_synth()
    role = s.one("aws:iam/role:Role")
    profile = s.one("aws:iam/instanceProfile:InstanceProfile")
    assert profile.inputs["role"] == role.outputs["name"]
    assert {p.inputs["role"] for p in s.of_type(ROLE_POLICY)} == {role.id}
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust == [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]


def test_lifecycle_policy_is_scoped_to_this_groups_arn() -> None:
    s = aws_synth()
    st = by_sid(s, "moodring-agent-lifecycle")["OwnLifecycle"]
    assert st["Resource"] == s.named("moodring-agents").outputs["arn"]
    assert set(st["Action"]) == {
        "autoscaling:CompleteLifecycleAction",
        "autoscaling:RecordLifecycleActionHeartbeat",
        "autoscaling:SetInstanceHealth",
    }


def test_an_agent_may_set_scale_in_protection_only_in_this_group() -> None:
    # A busy agent protects its own instance; the permission names exactly this group's ARN, in
    # exactly one statement of all the role's policies.
    s = aws_synth()
    group_arn = s.named("moodring-agents").outputs["arn"]
    granting = [
        st
        for policy in s.of_type(ROLE_POLICY)
        for st in statements(policy)
        if "autoscaling:SetInstanceProtection" in as_list(st["Action"])
    ]
    assert granting == [
        {
            "Sid": "OwnProtection",
            "Effect": "Allow",
            "Action": ["autoscaling:SetInstanceProtection"],
            "Resource": group_arn,
        }
    ]
    assert group_arn.endswith(":autoScalingGroupName/moodring-agents")


def test_metrics_are_scoped_by_namespace_since_put_metric_data_has_no_resource() -> None:
    st = by_sid(aws_synth(), "moodring-agent-data")["Metrics"]
    assert st["Action"] == "cloudwatch:PutMetricData"
    assert st["Resource"] == "*"
    assert st["Condition"] == {"StringEquals": {"cloudwatch:namespace": "agentfleet/moodring"}}


def test_no_wildcard_action_and_no_star_resource_except_metrics() -> None:
    s = aws_synth({"state": {"cache": True}, "compute": {"spot": True}, "agent": {"image": ECR}})
    for policy in s.of_type(ROLE_POLICY):
        for st in statements(policy):
            assert st["Effect"] == "Allow"
            for action in as_list(st["Action"]):
                assert "*" not in action, (policy.name, action)
            if "*" in as_list(st["Resource"]):
                # The two actions AWS offers no resource-level permission for.
                assert as_list(st["Action"]) in (["cloudwatch:PutMetricData"], ["ecr:GetAuthorizationToken"])
                if st["Action"] == "cloudwatch:PutMetricData":
                    assert "Condition" in st


def test_disabled_state_gets_no_permissions() -> None:
    st = by_sid(aws_synth({"state": {"table": False, "bucket": False}}), "moodring-agent-data")
    assert set(st) == {"ConsumeWork", "DeadLetter", "Logs", "Metrics"}
    actions = [a for x in st.values() for a in as_list(x["Action"])]
    assert not [a for a in actions if a.startswith(("dynamodb:", "s3:"))]


ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/moodring-agent:2.0.0"


def test_an_ecr_image_gets_pull_rights_on_exactly_its_repository() -> None:
    st = by_sid(aws_synth({"agent": {"image": ECR}}), "moodring-agent-data")
    assert st["PullImage"]["Resource"] == "arn:aws:ecr:eu-west-1:123456789012:repository/team/moodring-agent"
    assert "ecr:BatchGetImage" in st["PullImage"]["Action"]
    assert st["RegistryLogin"] == {
        "Sid": "RegistryLogin",
        "Effect": "Allow",
        "Action": "ecr:GetAuthorizationToken",
        "Resource": "*",
    }


def test_an_image_outside_ecr_gets_no_registry_permissions() -> None:
    st = by_sid(aws_synth(), "moodring-agent-data")
    assert "PullImage" not in st and "RegistryLogin" not in st
