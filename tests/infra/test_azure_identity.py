"""Role assignments: this identity, built-in roles (and one custom role for scale-in protection),
scoped to this fleet's own resources only."""

from __future__ import annotations

import re

import pytest

from agentfleet.agent import contract
from agentfleet.providers.azure.identity import protection_role_id
from agentfleet.providers.azure.mocks import SUBSCRIPTION_ID
from agentfleet.synth import Recorded, Synthesis
from tests.infra.helpers import synth

ROLE = "azure-native:authorization:RoleAssignment"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
RECEIVER = "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0"
SENDER = "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39"
TABLE_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
BLOB_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"


@pytest.fixture(scope="module")
def stack() -> Synthesis:
    return synth("azure")


def role_id(guid: str) -> str:
    return f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def assignment(s: Synthesis, guid: str) -> Recorded:
    found = [r for r in s.of_type(ROLE) if r.inputs["roleDefinitionId"] == role_id(guid)]
    assert len(found) == 1, [r.inputs["roleDefinitionId"] for r in s.of_type(ROLE)]
    return found[0]


def test_every_assignment_is_for_this_identity_as_a_service_principal(stack: Synthesis) -> None:
    principal = stack.one(IDENTITY).outputs["principalId"]
    assert len(stack.of_type(ROLE)) == 5
    for r in stack.of_type(ROLE):
        assert r.inputs["principalId"] == principal
        assert r.inputs["principalType"] == "ServicePrincipal"


def test_receiver_role_on_this_queue_only(stack: Synthesis) -> None:
    queue = stack.one("azure-native:servicebus:Queue")
    assert assignment(stack, RECEIVER).inputs["scope"] == queue.id


def test_sender_role_on_this_queue_only_for_retries_with_backoff(stack: Synthesis) -> None:
    queue = stack.one("azure-native:servicebus:Queue")
    assert assignment(stack, SENDER).inputs["scope"] == queue.id


def test_table_contributor_on_this_table(stack: Synthesis) -> None:
    table = stack.one("azure-native:storage:Table")
    scope = assignment(stack, TABLE_CONTRIBUTOR).inputs["scope"]
    assert scope == table.id
    assert scope.startswith(stack.one("azure-native:storage:StorageAccount").id + "/")


def test_blob_contributor_on_this_container(stack: Synthesis) -> None:
    container = stack.one("azure-native:storage:BlobContainer")
    assert assignment(stack, BLOB_CONTRIBUTOR).inputs["scope"] == container.id


def test_no_assignment_reaches_beyond_this_resource_group(stack: Synthesis) -> None:
    rg = stack.one("azure-native:resources:ResourceGroup").id
    for r in stack.of_type(ROLE):
        assert r.inputs["scope"].startswith(rg + "/providers/")


def test_assignment_names_are_stable_guids(stack: Synthesis) -> None:
    first = sorted(r.inputs["roleAssignmentName"] for r in stack.of_type(ROLE))
    again = sorted(r.inputs["roleAssignmentName"] for r in synth("azure").of_type(ROLE))
    assert first == again
    assert len(set(first)) == 5 and all(len(n) == 36 for n in first)


def test_no_storage_roles_without_table_or_bucket() -> None:
    s = synth("azure", {"state": {"table": False, "bucket": False}})
    protection = role_id(protection_role_id(s.one("azure-native:resources:ResourceGroup").id))
    assert sorted(r.inputs["roleDefinitionId"] for r in s.of_type(ROLE)) == sorted(
        [role_id(RECEIVER), role_id(SENDER), protection]
    )


def test_cache_access_policy_for_this_identity_on_this_cache() -> None:
    s = synth("azure", {"state": {"cache": True}})
    policy = s.one("azure-native:redisenterprise:AccessPolicyAssignment").inputs
    assert policy["user"] == {"objectId": s.one(IDENTITY).outputs["principalId"]}
    assert policy["clusterName"] == s.one("azure-native:redisenterprise:RedisEnterprise").outputs["name"]
    assert policy["databaseName"] == s.one("azure-native:redisenterprise:Database").outputs["name"]
    # Azure Managed Redis supports only the "default" access policy, and the assignment's name
    # must be letters and digits only (^[A-Za-z0-9]{1,60}$), which auto-naming would break.
    assert policy["accessPolicyName"] == "default"
    assert re.fullmatch(r"[A-Za-z0-9]{1,60}", policy["accessPolicyAssignmentName"])


def test_scale_set_waits_for_the_cache_access_policy() -> None:
    s = synth("azure", {"state": {"cache": True}})
    policy = s.one("azure-native:redisenterprise:AccessPolicyAssignment")
    assert policy.urn in s.one("azure-native:compute:VirtualMachineScaleSet").depends_on


PROTECTION_ACTIONS = [
    "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read",
    "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/write",
]


def test_agents_may_protect_their_vm_from_scale_in_on_this_scale_set_only(stack: Synthesis) -> None:
    # Issue 10: the agent sets protectFromScaleIn on its own scale-set VM through ARM. Failed
    # before: no role allowed it, and the agent was not told to (AGENTFLEET_PROTECTION).
    rg = stack.one("azure-native:resources:ResourceGroup").id
    vmss = stack.one("azure-native:compute:VirtualMachineScaleSet")
    (definition,) = stack.of_type("azure-native:authorization:RoleDefinition")
    guid = protection_role_id(rg)
    assert definition.inputs["roleDefinitionId"] == guid
    assert definition.inputs["roleType"] == "CustomRole"
    # Exactly reading and updating a scale-set VM: not delete, restart, reimage or the scale set.
    assert definition.inputs["permissions"] == [{"actions": PROTECTION_ACTIONS}]
    # Assignable only inside this fleet's resource group (custom roles can't be assignable at a
    # single resource); the assignment itself is scoped to this scale set.
    assert definition.inputs["assignableScopes"] == [rg] and definition.inputs["scope"] == rg
    grant = assignment(stack, guid)
    assert grant.inputs["scope"] == vmss.id
    assert grant.inputs["principalId"] == stack.one(IDENTITY).outputs["principalId"]
    assert definition.urn in grant.depends_on


def test_agent_is_told_to_protect_itself_through_the_scale_set() -> None:
    from tests.infra.test_azure_compute import env_file

    assert env_file(synth("azure"))[contract.PROTECTION] == "azure-vmss"


def test_protection_role_names_differ_between_fleets(stack: Synthesis) -> None:
    other = synth("azure", {"name": "otherfleet"})
    names = {s.one("azure-native:authorization:RoleDefinition").inputs["roleName"] for s in (stack, other)}
    assert len(names) == 2  # role names are unique in the tenant
