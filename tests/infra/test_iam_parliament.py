"""parliament (duo-labs' IAM linter) on every IAM policy document the AWS program generates.

The documents are taken from the synthesized program (resolved ARNs, as `pulumi up` would send
them), for every shape of config that changes them. Any finding above LOW fails. The role's
trust policy is not an identity policy (parliament would call it malformed for having no
Resource); tests/infra/test_aws_iam.py checks it instead.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from parliament import analyze_policy_string, enhance_finding

from tests.infra.aws_helpers import aws_synth

CONFIGS: dict[str, dict[str, Any]] = {
    "default": {},
    "everything": {
        "state": {"cache": True},
        "compute": {"spot": True},
        "scaling": {"min_agents": 1},
        "agent": {"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/moodring-agent:1.4.2"},
    },
    "no-state": {"state": {"table": False, "bucket": False}},
    "secrets": {
        "agent": {
            "secrets": {
                "API_KEY": "sk-live-7Hq2vV9pXe4LmN0a",
                "DB_PASSWORD": {"ref": "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db"},
                "STRIPE_KEY": {"ref": "arn:aws:ssm:us-east-1:123456789012:parameter/prod/stripe:3"},
                "SMTP_PASSWORD": {"ref": "/prod/smtp/password"},
            }
        }
    },
    "existing-network": {
        "aws": {"vpc_id": "vpc-0abc12345def67890", "subnet_ids": ["subnet-0abc12345def67890"]},
    },
}
SERIOUS = ("MEDIUM", "HIGH", "CRITICAL")
POLICY_TYPES = ("aws:iam/rolePolicy:RolePolicy", "aws:s3/bucketPolicy:BucketPolicy", "aws:iam/policy:Policy")


def documents() -> list[tuple[str, str]]:
    docs: list[tuple[str, str]] = []
    for label, fleet in CONFIGS.items():
        s = aws_synth(fleet)
        for typ in POLICY_TYPES:
            docs += [(f"{label}:{r.name}", r.inputs["policy"]) for r in s.of_type(typ)]
    return docs


def test_every_policy_shape_is_covered() -> None:
    names = {label.split(":", 1)[1] for label, _ in documents()}
    assert names == {"moodring-agent-data", "moodring-agent-lifecycle", "moodring-bucket-tls-only"}


@pytest.mark.parametrize(("label", "document"), documents(), ids=lambda v: v if ":" in str(v)[:40] else "")
def test_parliament_finds_nothing_above_low(label: str, document: str) -> None:
    policy = analyze_policy_string(document)
    findings = [enhance_finding(f) for f in policy.findings]
    serious = [(f.issue, f.severity, f.detail, f.location) for f in findings if f.severity in SERIOUS]
    assert serious == [], f"{label}: {serious}"


def test_parliament_really_runs() -> None:
    # SQS actions on a bucket ARN: parliament must call this a MEDIUM finding, so the test above
    # is not passing vacuously.
    statement = {"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "arn:aws:s3:::b"}
    bad = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    findings = [enhance_finding(f) for f in analyze_policy_string(bad).findings]
    assert ("RESOURCE_MISMATCH", "MEDIUM") in [(f.issue, f.severity) for f in findings]
