"""Names and descriptions as each AWS API accepts them, for the longest fleet name the config allows.

Mocks accept any string; the real APIs do not. Each rule below is the service's own (API reference
constraints), checked on what the program would send for a 24-character fleet name with every
optional resource on.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import pytest

from agentfleet.synth import Synthesis
from tests.infra.aws_helpers import aws_synth, user_data
from tests.infra.helpers import synth

LONGEST = "inventory-reconciler-eu1"  # 24 characters, the most fleet.name allows
ECR_IMAGE = (
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com/acme/platform-engineering/inventory-team/"
    "reconciler-agent-with-a-rather-long-repository-name@sha256:" + "0" * 64
)  # 228 characters: ECR allows repository names of up to 256
FULL = {
    "name": LONGEST,
    "agent": {"image": ECR_IMAGE, "env": {f"VAR_{i:02d}": "x" * 94 for i in range(80)}},  # 8160 bytes
    "state": {"table": True, "bucket": True, "cache": True},
    "compute": {"spot": True},
    "scaling": {"min_agents": 0},
}

#: (resource type, input key) -> (max length, pattern), from each API's documented constraints.
NAME_RULES: dict[tuple[str, str], tuple[int, str]] = {
    ("aws:sqs/queue:Queue", "name"): (80, r"[A-Za-z0-9_-]+"),
    ("aws:dynamodb/table:Table", "name"): (255, r"[A-Za-z0-9_.-]{3,}"),
    # The provider appends a 26-character unique suffix to the prefix; S3 names are 3-63 characters.
    ("aws:s3/bucket:Bucket", "bucketPrefix"): (63 - 26, r"[a-z0-9][a-z0-9.-]*"),
    ("aws:elasticache/replicationGroup:ReplicationGroup", "replicationGroupId"): (
        40,
        r"[a-z](?!.*--)[a-z0-9-]*[a-z0-9]",
    ),
    ("aws:elasticache/subnetGroup:SubnetGroup", "name"): (255, r"[a-z0-9-]+"),
    ("aws:iam/role:Role", "name"): (64, r"[\w+=,.@-]+"),
    ("aws:iam/instanceProfile:InstanceProfile", "name"): (128, r"[\w+=,.@-]+"),
    ("aws:iam/rolePolicy:RolePolicy", "name"): (128, r"[\w+=,.@-]+"),
    ("aws:ec2/launchTemplate:LaunchTemplate", "name"): (128, r"[A-Za-z0-9().\-/_]{3,}"),
    ("aws:autoscaling/group:Group", "name"): (255, r"[^:]+"),
    ("aws:autoscaling/lifecycleHook:LifecycleHook", "name"): (255, r"[A-Za-z0-9\-_/]+"),
    ("aws:autoscaling/policy:Policy", "name"): (255, r"[^:]+"),
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "name"): (255, r"[^\x00-\x1f]+"),
    ("aws:cloudwatch/dashboard:Dashboard", "dashboardName"): (255, r"[A-Za-z0-9_-]+"),
    ("aws:cloudwatch/logGroup:LogGroup", "name"): (512, r"[.\-_/#A-Za-z0-9]+"),
    ("aws:sns/topic:Topic", "name"): (256, r"[A-Za-z0-9_-]+"),
    ("aws:ec2/securityGroup:SecurityGroup", "name"): (255, r"(?!sg-)[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]+"),
}
#: Descriptions with a documented limit (launch template 255, alarm 1024, IAM role 1000).
DESCRIPTION_LIMITS = {
    ("aws:ec2/launchTemplate:LaunchTemplate", "description"): 255,
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "alarmDescription"): 1024,
    ("aws:iam/role:Role", "description"): 1000,
    ("aws:ec2/securityGroup:SecurityGroup", "description"): 255,
}
#: EC2: security group descriptions; rule descriptions allow the same but '&'.
SECURITY_GROUP_DESCRIPTION = re.compile(r"[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{0,255}")
RULE_DESCRIPTION = re.compile(r"[a-zA-Z0-9 ._\-:/()#,@\[\]+=;{}!$*]{0,255}")
RULES = (
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
)
EXISTING_NETWORK = {
    "vpc_id": "vpc-0abc12345def67890",
    "subnet_ids": ["subnet-0abc12345def67890", "subnet-0123456789abcdef0"],
}


#: The longest region name there is (14 characters): account-global names carry the region.
LONGEST_REGION = "ap-southeast-5"


@functools.lru_cache(maxsize=4)
def _synth(fleet_json: str) -> Synthesis:
    return synth("aws", json.loads(fleet_json), **{"aws:region": LONGEST_REGION})


def _values(fleet: dict[str, Any], typ: str, key: str) -> list[str]:
    values = [r.inputs.get(key) for r in _synth(json.dumps(fleet, sort_keys=True)).of_type(typ)]
    assert values, f"no {typ} in the synthesis"
    return [str(v) for v in values if v is not None]


@pytest.mark.parametrize(("typ", "key"), list(NAME_RULES))
def test_the_longest_fleet_name_gives_names_every_service_accepts(typ: str, key: str) -> None:
    limit, pattern = NAME_RULES[(typ, key)]
    values = _values(FULL, typ, key)
    assert values
    for value in values:
        assert len(value) <= limit, f"{typ} {key}={value!r} is longer than {limit}"
        assert re.fullmatch(pattern, value), f"{typ} {key}={value!r} breaks {pattern}"


@pytest.mark.parametrize(("typ", "key"), list(DESCRIPTION_LIMITS))
def test_descriptions_fit_their_limits_with_the_longest_name_and_image(typ: str, key: str) -> None:
    limit = DESCRIPTION_LIMITS[(typ, key)]
    for value in _values(FULL, typ, key):
        assert 0 < len(value) <= limit, f"{typ} {key} is {len(value)} characters, more than {limit}"


def test_the_longest_name_with_the_largest_environment_still_fits_ec2_user_data() -> None:
    assert len(user_data(_synth(json.dumps(FULL, sort_keys=True))).encode()) <= 16_384


@pytest.mark.parametrize(
    "fleet",
    [{}, {"state": {"cache": True}}, {"aws": EXISTING_NETWORK, "state": {"cache": True}}, FULL],
    ids=["default", "cache", "existing-network", "longest"],
)
def test_security_group_and_rule_descriptions_use_only_characters_ec2_accepts(fleet: dict[str, Any]) -> None:
    s = aws_synth(fleet)
    for group in s.of_type("aws:ec2/securityGroup:SecurityGroup"):
        assert SECURITY_GROUP_DESCRIPTION.fullmatch(group.inputs["description"]), group.inputs["description"]
    rules = [r for typ in RULES for r in s.of_type(typ)]
    assert rules
    for rule in rules:
        assert RULE_DESCRIPTION.fullmatch(rule.inputs["description"]), rule.inputs["description"]
