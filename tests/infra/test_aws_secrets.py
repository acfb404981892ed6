"""`agent.secrets` on AWS: values in Secrets Manager, references granted, never a plaintext value.

Each test runs the real program under mocks (aws_helpers.aws_synth) with the config a user writes:
a value (what `pulumi up` hands the program after decrypting `--secret` config) and references.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentfleet.components.problems import ConfigError
from agentfleet.components.schema import SecretReference
from agentfleet.components.validation import load_fleet_config
from agentfleet.providers.aws import references
from agentfleet.providers.aws.settings import secrets_bytes
from agentfleet.synth import SECRET
from tests.infra.aws_helpers import ACCOUNT, REGION, agent_env, aws_synth, statements
from tests.infra.helpers import BASE_FLEET, deep_merge, plaintext_holders

VALUE = "sk-live-7Hq2vV9pXe4LmN0a"
STORED_REF = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-password-AbCdEf"
WITH_SECRETS: dict[str, Any] = {
    "agent": {"secrets": {"API_KEY": VALUE, "DB_PASSWORD": {"ref": STORED_REF}}},
}
SECRET_TYPE = "aws:secretsmanager/secret:Secret"
VERSION_TYPE = "aws:secretsmanager/secretVersion:SecretVersion"
READ_ACTIONS = {"secretsmanager:GetSecretValue", "ssm:GetParameter"}


def secret_statements(s: Any) -> list[dict[str, Any]]:
    """Every statement of every role policy that lets the agents read a secret or parameter."""
    found = []
    for policy in s.of_type("aws:iam/rolePolicy:RolePolicy"):
        for statement in statements(policy):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(a.split(":")[0] in ("secretsmanager", "ssm", "kms") for a in actions):
                found.append(statement)
    return found


def granted(s: Any) -> dict[str, list[str]]:
    """Action -> the resources it is granted on."""
    out: dict[str, list[str]] = {}
    for statement in secret_statements(s):
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for action in statement["Action"]:
            out.setdefault(action, []).extend(resources)
    return out


@pytest.mark.parametrize("preview", [False, True])
def test_the_value_is_in_no_resource_input_invoke_or_output(preview: bool) -> None:
    s = aws_synth(WITH_SECRETS, preview=preview)
    assert s.of_type(VERSION_TYPE), "the value must be stored, or this test proves nothing"
    assert plaintext_holders(s, VALUE) == []


def test_the_value_is_stored_in_secrets_manager_as_a_pulumi_secret() -> None:
    s = aws_synth(WITH_SECRETS)
    secret = s.one(SECRET_TYPE)
    fleet = s.one("agentfleet:index:ScalableAgentFleet")
    assert secret.parent == fleet.urn
    assert secret.inputs["name"] == "agentfleet/moodring/API_KEY"
    assert secret.inputs["recoveryWindowInDays"] == 0
    version = s.one(VERSION_TYPE)
    assert version.parent == fleet.urn
    assert version.inputs["secretId"] == secret.id
    assert version.inputs["secretString"] == SECRET
    # The first agent reads the value at start: the group waits for the version.
    assert version.urn in s.named("moodring-agents").depends_on


def test_the_role_may_read_exactly_the_stored_and_the_referenced_secret() -> None:
    s = aws_synth(WITH_SECRETS)
    stored = s.one(SECRET_TYPE).outputs["arn"]
    assert stored.startswith(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:agentfleet/moodring/API_KEY-")
    assert granted(s) == {"secretsmanager:GetSecretValue": [stored, STORED_REF]}


def test_the_agent_is_told_both_references_and_no_value() -> None:
    s = aws_synth(WITH_SECRETS)
    env = agent_env(s)
    assert json.loads(env["AGENTFLEET_SECRETS"]) == {
        "API_KEY": s.one(SECRET_TYPE).outputs["arn"],
        "DB_PASSWORD": STORED_REF,
    }
    assert "API_KEY" not in env and "DB_PASSWORD" not in env


def test_a_fleet_without_secrets_stores_and_grants_nothing() -> None:
    s = aws_synth()
    assert s.of_type(SECRET_TYPE) == [] and s.of_type(VERSION_TYPE) == []
    assert secret_statements(s) == []
    assert "AGENTFLEET_SECRETS" not in agent_env(s)
    assert not [token for token, _ in s.invokes if token == "aws:index/getCallerIdentity:getCallerIdentity"]


def test_references_only_store_nothing_and_grant_each_reference() -> None:
    parameter = "arn:aws:ssm:eu-west-1:123456789012:parameter/prod/stripe/key"
    s = aws_synth(
        {
            "agent": {
                "secrets": {
                    "STRIPE_KEY": {"ref": f"{parameter}:3"},
                    "SMTP_PASSWORD": {"ref": "/prod/smtp/password"},
                    "DB_PASSWORD": {"ref": "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db"},
                }
            }
        }
    )
    assert s.of_type(SECRET_TYPE) == []
    assert granted(s) == {
        # A partial ARN: the secret's own ARN adds a hyphen and six characters, matched exactly.
        "secretsmanager:GetSecretValue": [
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-??????"
        ],
        # The version selector is not part of the ARN; a name is in the fleet's region and account.
        "ssm:GetParameter": [
            f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/prod/smtp/password",
            parameter,
        ],
    }
    assert json.loads(agent_env(s)["AGENTFLEET_SECRETS"])["SMTP_PASSWORD"] == "/prod/smtp/password"
    assert [t for t, _ in s.invokes if t == "aws:index/getCallerIdentity:getCallerIdentity"]


def test_no_kms_grant_and_no_wildcard_beyond_the_suffix() -> None:
    s = aws_synth(WITH_SECRETS)
    for statement in secret_statements(s):
        assert set(statement["Action"]) <= READ_ACTIONS
        for resource in statement["Resource"]:
            assert "*" not in resource


@pytest.mark.parametrize(
    ("reference", "grant"),
    [
        (
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbC123",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbC123",
        ),
        (
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:db",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-??????",
        ),
        (
            "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:a/b",
            "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:a/b-??????",
        ),
        (
            "arn:aws:ssm:us-east-1:123456789012:parameter/a/b:live",
            "arn:aws:ssm:us-east-1:123456789012:parameter/a/b",
        ),
        ("/a/b", "a/b"),
        ("/a/b:7", "a/b"),
    ],
)
def test_each_reference_form_grants_its_own_resource(reference: str, grant: str) -> None:
    found = references.grant_for(reference)
    assert found is not None and found.resource == grant


@pytest.mark.parametrize(
    "reference",
    [
        "arn:aws:ssm:us-east-1:123456789012:document/agent",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:*",
        "/",
        "/prod/*",
    ],
)
def test_a_reference_that_names_no_secret_is_a_config_error(reference: str) -> None:
    with pytest.raises(ConfigError) as raised:
        aws_synth({"agent": {"secrets": {"TOKEN": {"ref": reference}}}})
    [problem] = raised.value.problems
    assert (problem.field, problem.value) == ("fleet.agent.secrets.TOKEN.ref", reference)
    assert "must be a Secrets Manager ARN" in problem.allowed
    assert references.grant_for(SecretReference(ref=reference).ref) is None


def test_the_plaintext_check_finds_a_value_that_leaks() -> None:
    # The same string as a plain variable is in the (base64) user data: the check above is not vacuous.
    s = aws_synth({"agent": {"env": {"LEAKED": VALUE}}})
    assert plaintext_holders(s, VALUE) == ["aws:ec2/launchTemplate:LaunchTemplate moodring-agent-template"]


def test_references_count_against_the_user_data_budget() -> None:
    # agent.env alone fits; with twenty stored secrets' ARNs the agent's environment would not.
    fleet = {"agent": {"env": {"BIG": "x" * 7000}, "secrets": {f"KEY_{i}": "v" for i in range(20)}}}
    with pytest.raises(ConfigError) as raised:
        aws_synth(fleet)
    [problem] = raised.value.problems
    assert problem.field == "fleet.agent.secrets"
    assert "must fit with agent.env in 8192 bytes on AWS" in problem.allowed
    # The estimate is an upper bound of what the program really writes.
    fits = {"agent": {"secrets": {f"KEY_{i}": "v" for i in range(20)}}}
    written = "AGENTFLEET_SECRETS=" + agent_env(aws_synth(fits))["AGENTFLEET_SECRETS"] + "\n"
    assert len(written.encode()) <= secrets_bytes(load_fleet_config("aws", deep_merge(BASE_FLEET, fits)))
