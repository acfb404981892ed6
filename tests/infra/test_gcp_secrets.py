"""`agent.secrets` on Google Cloud: values in Secret Manager, read by the fleet's account only.

Every test runs the real program under mocks (tests/infra/helpers.py) with one value secret and
one `{ref}` to a secret the user keeps, and asserts on what it registered.
"""

from __future__ import annotations

import json

import pytest

import agentfleet.agent.secrets.gcp as reader
from agentfleet.agent import contract
from agentfleet.agent.secrets.gcp import SecretManagerSecrets
from agentfleet.providers.gcp.mocks import PROJECT_NUMBER
from tests.infra.gcp_helpers import PROJECT, env_of, gcp_synth
from tests.infra.helpers import plaintext_holders

VALUE = "sk-live-0123456789abcdef"
REFERENCE = "projects/vault-project/secrets/db-password"
WITH_SECRETS = {"agent": {"secrets": {"API_KEY": VALUE, "DB_PASSWORD": {"ref": REFERENCE}}}}
AGENT_MEMBER = f"serviceAccount:moodring-agent@{PROJECT}.iam.gserviceaccount.com"
SECRET_TYPES = (
    "gcp:secretmanager/secret:Secret",
    "gcp:secretmanager/secretVersion:SecretVersion",
    "gcp:secretmanager/secretIamMember:SecretIamMember",
)


def test_the_value_is_in_no_resource_input_invoke_or_stack_output() -> None:
    s = gcp_synth(WITH_SECRETS)
    assert plaintext_holders(s, VALUE) == []
    # The search would find it: the value is stored, as a Pulumi secret.
    assert s.one("gcp:secretmanager/secretVersion:SecretVersion").inputs["secretData"] == "[secret]"


def test_the_value_is_stored_in_secret_manager_under_the_fleet_and_variable_name() -> None:
    s = gcp_synth(WITH_SECRETS)
    secret = s.one("gcp:secretmanager/secret:Secret")
    assert secret.inputs["secretId"] == "moodring-API_KEY"
    assert secret.inputs["project"] == PROJECT
    assert secret.inputs["replication"] == {"auto": {}}
    version = s.one("gcp:secretmanager/secretVersion:SecretVersion")
    assert version.inputs["secret"] == secret.id == f"projects/{PROJECT}/secrets/moodring-API_KEY"
    fleet = s.one("agentfleet:index:ScalableAgentFleet")
    assert secret.parent == fleet.urn and version.parent == fleet.urn


def test_the_agent_account_may_read_exactly_the_stored_and_the_referenced_secret() -> None:
    s = gcp_synth(WITH_SECRETS)
    grants = s.of_type("gcp:secretmanager/secretIamMember:SecretIamMember")
    assert sorted(g.inputs["secretId"] for g in grants) == sorted(
        [f"projects/{PROJECT}/secrets/moodring-API_KEY", REFERENCE]
    )
    assert {g.inputs["role"] for g in grants} == {"roles/secretmanager.secretAccessor"}
    assert {g.inputs["member"] for g in grants} == {AGENT_MEMBER}
    # No project given: the provider takes it from the secret's path (vault-project for the ref).
    assert not [g for g in grants if "project" in g.inputs]
    # Nothing else reads secrets: no project-wide accessor role.
    assert not [r for r in s.resources if "secretmanager" in str(r.inputs.get("role")) and r not in grants]


def test_agent_gets_references_to_both_secrets_and_the_reader_accepts_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = gcp_synth(WITH_SECRETS)
    env = env_of(s.one("kubernetes:apps/v1:Deployment"))
    references = json.loads(env[contract.SECRETS])
    version = s.one("gcp:secretmanager/secretVersion:SecretVersion")
    assert references == {"API_KEY": version.outputs["name"], "DB_PASSWORD": REFERENCE}
    assert references["API_KEY"] == f"projects/{PROJECT_NUMBER}/secrets/moodring-API_KEY/versions/1"
    assert "API_KEY" not in env and "DB_PASSWORD" not in env
    # The runtime's reader asks Secret Manager for exactly the version stored, and the latest of a ref.
    asked: list[str] = []

    def answer(url: str, token: str, reference: str) -> dict[str, object]:
        asked.append(url)
        return {"payload": {"data": "dmFsdWU="}}

    monkeypatch.setattr(reader, "get_json", answer)
    store = SecretManagerSecrets(token=lambda: "token")
    assert [store.read(ref) for ref in references.values()] == ["value", "value"]
    assert asked == [
        f"https://secretmanager.googleapis.com/v1/{references['API_KEY']}:access",
        f"https://secretmanager.googleapis.com/v1/{REFERENCE}/versions/latest:access",
    ]


def test_a_reference_to_a_version_is_granted_on_its_secret() -> None:
    pinned = f"{REFERENCE}/versions/7"
    s = gcp_synth({"agent": {"secrets": {"DB_PASSWORD": {"ref": pinned}}}})
    grant = s.one("gcp:secretmanager/secretIamMember:SecretIamMember")
    assert grant.inputs["secretId"] == REFERENCE
    env = env_of(s.one("kubernetes:apps/v1:Deployment"))
    assert json.loads(env[contract.SECRETS]) == {"DB_PASSWORD": pinned}
    # Nothing stored, so nothing of Secret Manager's created but the grant.
    assert not s.of_type("gcp:secretmanager/secret:Secret")


def test_pods_start_only_after_the_grants_exist() -> None:
    s = gcp_synth(WITH_SECRETS)
    deployment = s.one("kubernetes:apps/v1:Deployment")
    grants = s.of_type("gcp:secretmanager/secretIamMember:SecretIamMember")
    version = s.one("gcp:secretmanager/secretVersion:SecretVersion")
    assert {g.urn for g in grants} | {version.urn} <= set(deployment.depends_on)


def test_secret_manager_api_is_enabled_for_a_fleet_that_stores_a_value() -> None:
    s = gcp_synth(WITH_SECRETS)
    services = {r.inputs["service"]: r for r in s.of_type("gcp:projects/service:Service")}
    assert "secretmanager.googleapis.com" in services
    secret = s.one("gcp:secretmanager/secret:Secret")
    assert services["secretmanager.googleapis.com"].urn in secret.depends_on


def test_a_fleet_without_secrets_has_no_secret_manager_resources_nor_grants() -> None:
    s = gcp_synth()
    assert not [r for r in s.resources if r.type in SECRET_TYPES]
    assert "secretmanager.googleapis.com" not in {
        r.inputs["service"] for r in s.of_type("gcp:projects/service:Service")
    }
    assert contract.SECRETS not in env_of(s.one("kubernetes:apps/v1:Deployment"))


def test_preview_keeps_the_value_secret_too() -> None:
    s = gcp_synth(WITH_SECRETS, preview=True)
    assert plaintext_holders(s, VALUE) == []
