"""`agent.secrets` on Azure: values in the fleet's own Key Vault, read rights on exactly the fleet's
secrets, and the agent told only where they are."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import urlparse

import pytest
import yaml

from agentfleet.agent import contract
from agentfleet.agent.secrets import parse_references, resolve
from agentfleet.agent.secrets.azure import KeyVaultSecrets
from agentfleet.components.problems import ConfigError
from agentfleet.providers.azure.mocks import SUBSCRIPTION_ID
from agentfleet.providers.azure.names import VAULT_NAME_PATTERN, vault_name
from agentfleet.providers.azure.secrets import KEY_VAULT_SECRETS_USER, secret_scope
from agentfleet.providers.cloudinit import ENV_FILE
from agentfleet.synth import Recorded, Synthesis
from tests.infra.helpers import plaintext_holders, synth
from tests.runtime.test_secrets import RestStore, serving

VALUE = "sk-live-4f9a1c0d77e2b3a5"
TEAM_VAULT_ID = (
    f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/team-rg/providers/Microsoft.KeyVault/vaults/teamvault"
)
REF = "https://teamvault.vault.azure.net/secrets/db-password"
SECRETS = {
    "agent": {"secrets": {"API_KEY": VALUE, "DB_PASSWORD": {"ref": REF}}},
    "azure": {"key_vault_ids": [TEAM_VAULT_ID]},
}
ROLE = "azure-native:authorization:RoleAssignment"
VAULT = "azure-native:keyvault:Vault"
SECRET = "azure-native:keyvault:Secret"


@pytest.fixture(scope="module")
def stack() -> Synthesis:
    return synth("azure", SECRETS)


def secrets_user_grants(s: Synthesis) -> list[Recorded]:
    return [r for r in s.of_type(ROLE) if r.inputs["roleDefinitionId"].endswith("/" + KEY_VAULT_SECRETS_USER)]


def agent_env(s: Synthesis) -> dict[str, str]:
    vmss = s.one("azure-native:compute:VirtualMachineScaleSet")
    release = base64.b64decode(vmss.inputs["virtualMachineProfile"]["userData"]).decode()
    (content,) = [f["content"] for f in yaml.safe_load(release)["write_files"] if f["path"] == ENV_FILE]
    return dict(line.split("=", 1) for line in content.splitlines())


def test_the_value_is_nowhere_in_plain_text(stack: Synthesis) -> None:
    assert plaintext_holders(stack, VALUE) == []
    # ... and it is stored: the one Key Vault secret holds it, as a Pulumi secret.
    assert stack.one(SECRET).inputs["properties"] == "[secret]"


def test_the_value_is_nowhere_in_plain_text_in_a_dry_run_either() -> None:
    assert plaintext_holders(synth("azure", SECRETS, preview=True), VALUE) == []


def test_the_identity_may_read_exactly_the_two_secrets(stack: Synthesis) -> None:
    stored = stack.one(SECRET)
    grants = secrets_user_grants(stack)
    assert sorted(g.inputs["scope"] for g in grants) == sorted(
        [stored.id, f"{TEAM_VAULT_ID}/secrets/db-password"]
    )
    principal = stack.one("azure-native:managedidentity:UserAssignedIdentity").outputs["principalId"]
    assert {g.inputs["principalId"] for g in grants} == {principal}
    # No grant on a vault as a whole, nor wider.
    assert not [g for g in stack.of_type(ROLE) if re.search(r"/vaults/[^/]+$", g.inputs["scope"])]


def test_the_agent_gets_both_references_and_no_value(stack: Synthesis) -> None:
    # The current version, not a pinned one: running agents re-read it (AGENTFLEET_SECRETS_REFRESH).
    stored = stack.one(SECRET).outputs["properties"]["secretUri"]
    assert stored == f"https://{stack.one(VAULT).outputs['name']}.vault.azure.net/secrets/API-KEY"
    env = agent_env(stack)
    assert json.loads(env[contract.SECRETS]) == {"API_KEY": stored, "DB_PASSWORD": REF}
    assert "API_KEY" not in env and "DB_PASSWORD" not in env
    for reference in json.loads(env[contract.SECRETS]).values():
        assert re.match(contract.SECRET_REFERENCES["azure"], reference), reference


def test_the_stored_secret_is_named_after_the_variable_in_the_fleet_s_vault(stack: Synthesis) -> None:
    secret, vault = stack.one(SECRET), stack.one(VAULT)
    assert secret.inputs["secretName"] == "API-KEY"
    assert secret.inputs["vaultName"] == vault.outputs["name"]
    assert secret.inputs["resourceGroupName"] == vault.inputs["resourceGroupName"]
    assert secret.name == "moodring-secret-API-KEY"
    assert secret.parent == vault.parent  # both children of the fleet


def test_the_vault_uses_rbac_soft_delete_and_purge_protection(stack: Synthesis) -> None:
    vault = stack.one(VAULT)
    props = vault.inputs["properties"]
    assert props["enableRbacAuthorization"] is True
    assert (props["enableSoftDelete"], props["softDeleteRetentionInDays"]) == (True, 90)
    assert props["enablePurgeProtection"] is True
    assert props["sku"] == {"family": "A", "name": "standard"}
    assert "accessPolicies" not in props
    assert (
        props["tenantId"]
        == stack.one("azure-native:managedidentity:UserAssignedIdentity").outputs["tenantId"]
    )
    rg = stack.one("azure-native:resources:ResourceGroup")
    assert vault.inputs["vaultName"] == vault_name("moodring", rg.id)


def test_the_scale_set_waits_for_the_secret_grants(stack: Synthesis) -> None:
    vmss = stack.one("azure-native:compute:VirtualMachineScaleSet")
    assert {g.urn for g in secrets_user_grants(stack)} <= set(vmss.depends_on)


def test_a_fleet_without_secrets_has_no_vault_and_no_secret_grant() -> None:
    s = synth("azure")
    assert s.of_type(VAULT) == [] and s.of_type(SECRET) == []
    assert secrets_user_grants(s) == []
    assert contract.SECRETS not in agent_env(s)


def test_a_reference_alone_creates_no_vault_and_one_grant() -> None:
    s = synth("azure", {**SECRETS, "agent": {"secrets": {"DB_PASSWORD": {"ref": REF + "/0123abcd"}}}})
    assert s.of_type(VAULT) == [] and s.of_type(SECRET) == []
    (grant,) = secrets_user_grants(s)
    # A pinned version is granted on its secret: role assignments do not scope to versions.
    assert grant.inputs["scope"] == f"{TEAM_VAULT_ID}/secrets/db-password"
    assert json.loads(agent_env(s)[contract.SECRETS]) == {"DB_PASSWORD": REF + "/0123abcd"}


def test_a_reference_to_an_unlisted_vault_is_refused_before_anything_registers() -> None:
    with pytest.raises(ConfigError) as exc:
        synth("azure", {"agent": {"secrets": {"DB_PASSWORD": {"ref": REF}}}})
    assert str(exc.value).startswith(
        f"agentfleet: fleet.agent.secrets.DB_PASSWORD.ref='{REF}' must be in a vault listed in "
        "fleet.azure.key_vault_ids: add the resource id of vault 'teamvault'"
    )


def test_a_vault_id_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ConfigError) as exc:
        synth("azure", {"azure": {"key_vault_ids": ["teamvault"]}})
    assert "fleet.azure.key_vault_ids" in str(exc.value)
    assert "must be a Key Vault resource id" in str(exc.value)


def test_variables_that_differ_only_in_case_are_refused() -> None:
    with pytest.raises(ConfigError) as exc:
        synth("azure", {"agent": {"secrets": {"API_KEY": VALUE, "api_key": VALUE}}})
    assert "Key Vault secret names are case-insensitive" in str(exc.value)
    assert VALUE not in str(exc.value)


@pytest.mark.parametrize(
    "fleet", ["moodring", "abc", "a-b-c", "a1-2-3-4-5-6-7-8-9-0-1-2", "averyveryveryverylongnam"]
)
@pytest.mark.parametrize("group", ["/subscriptions/s/resourceGroups/x", "/subscriptions/t/resourceGroups/Y"])
def test_vault_names_keep_key_vault_s_rules(fleet: str, group: str) -> None:
    name = vault_name(fleet, group)
    assert VAULT_NAME_PATTERN.match(name) and 3 <= len(name) <= 24, name
    assert vault_name(fleet, group) == name  # stable across runs
    assert vault_name(fleet, group + "2") != name  # distinct per resource group


def test_the_vault_name_pattern_refuses_what_key_vault_refuses() -> None:
    for bad in ("ab", "1abc", "abc-", "ab--cd", "a" * 25, "ab_cd"):
        assert not VAULT_NAME_PATTERN.match(bad), bad


def test_secret_scope_drops_the_version() -> None:
    assert secret_scope("/v", "https://x.vault.azure.net/secrets/n/123") == "/v/secrets/n"
    assert secret_scope("/v", "https://x.vault.azure.net/secrets/n") == "/v/secrets/n"


def test_the_runtime_reads_what_the_program_stores_and_references(stack: Synthesis) -> None:
    """End to end on the references: the agent's reader, against a local Key Vault REST server,
    resolves exactly the URIs the program put into AGENTFLEET_SECRETS."""
    references = parse_references(agent_env(stack)[contract.SECRETS])
    stored_path = urlparse(references["API_KEY"]).path
    rest = RestStore(answers={stored_path: {"value": VALUE}, "/secrets/db-password": {"value": "pw"}})
    with serving(rest) as url:
        store = KeyVaultSecrets(token=lambda: "token-1", base_url=url)
        assert resolve(references, {"azure": store}) == {"API_KEY": VALUE, "DB_PASSWORD": "pw"}
    assert stored_path == "/secrets/API-KEY"


def test_an_encrypted_value_read_from_a_stack_file_is_stored_as_a_stand_in_never_shown() -> None:
    # `agentfleet plan` reads the stack file without decrypting: the ciphertext is no value to store.
    cipher = "v1:Zm9vYmFyYmF6cXV4"
    s = synth("azure", {"agent": {"secrets": {"API_KEY": {"secure": cipher}}}})
    assert plaintext_holders(s, cipher) == []
    assert s.one(SECRET).inputs["properties"] == "[secret]"
    assert list(json.loads(agent_env(s)[contract.SECRETS])) == ["API_KEY"]
