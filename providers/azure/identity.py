"""The agents' identity: one user-assigned managed identity and role assignments scoped to this
fleet's own resources, nothing wider.

A user-assigned identity (rather than the scale set's system-assigned one) exists before the
scale set does, so its role assignments are in place when the first agent boots instead of
racing it. Each assignment uses a built-in role definition id and `principalType` ServicePrincipal
(no directory lookup, so no replication-delay failures on a fresh identity); its name is a UUID
derived from scope, role and principal, so re-running `pulumi up` never duplicates it.
"""

from __future__ import annotations

import uuid

import pulumi
from pulumi_azure_native import authorization, compute, managedidentity, redisenterprise

from agentfleet.components.schema import FleetConfig
from agentfleet.providers.azure.names import FleetNames, Site
from agentfleet.providers.azure.queue import Queue
from agentfleet.providers.azure.state import Cache, State

#: Built-in role definition ids (learn.microsoft.com/azure/role-based-access-control/built-in-roles).
SERVICE_BUS_DATA_RECEIVER = "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0"
SERVICE_BUS_DATA_SENDER = "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39"
STORAGE_TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
#: Azure Managed Redis data-plane access policy (not an RBAC role): "default" is the only one.
REDIS_ACCESS_POLICY = "default"
#: The assignment's own name: the API allows letters and digits only (^[A-Za-z0-9]{1,60}$), so it
#: is set rather than left to auto-naming (which would add a '-'-joined suffix).
REDIS_ASSIGNMENT_NAME = "agents"

#: The custom role that lets an agent set `protectFromScaleIn` on its own scale-set VM: "You can
#: apply scale-in protection ... PUT on .../virtualMachineScaleSets/{vmScaleSetName}/
#: virtualMachines/{instance-id}" with `{"properties": {"protectionPolicy": {"protectFromScaleIn":
#: true}}}`. No built-in role is narrower than Virtual Machine Contributor, which also deletes,
#: restarts and reimages; these two operations read and update a scale-set VM, nothing else.
SCALE_IN_PROTECTION_ACTIONS = (
    "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read",
    "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/write",
)

_NAMESPACE = uuid.UUID("5b0e7c0a-8f3e-4d59-9b8e-6a1f0c2d4e11")  # agentfleet's uuid5 namespace


def role_definition_id(subscription_id: str, role: str) -> str:
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role}"


def assignment_name(scope: str, role: str, principal_id: str) -> str:
    """Deterministic assignment name, like Bicep's guid(scope, role, principal)."""
    return str(uuid.uuid5(_NAMESPACE, f"{scope.lower()}|{role}|{principal_id}"))


def build_identity(
    parent: pulumi.Resource, config: FleetConfig, site: Site
) -> managedidentity.UserAssignedIdentity:
    return managedidentity.UserAssignedIdentity(
        FleetNames(config.name).identity,
        resource_group_name=site.resource_group,
        location=site.location,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def subscription_of(resource_id: str) -> str:
    """The subscription id inside an ARM resource id (/subscriptions/SUB/...)."""
    parts = resource_id.split("/")
    if len(parts) < 3 or parts[1].lower() != "subscriptions" or not parts[2]:
        raise ValueError(
            f"subscription_of: {resource_id!r} is not an ARM resource id (/subscriptions/SUB/...)"
        )
    return parts[2]


def grant(
    parent: pulumi.Resource,
    name: str,
    identity: managedidentity.UserAssignedIdentity,
    role: str,
    scope: pulumi.Input[str],
) -> authorization.RoleAssignment:
    """Give `identity` the built-in `role` on exactly `scope`.

    The role definition id is subscription-scoped; the subscription is read from the scope's own
    resource id, so no `getClientConfig` call is needed and the two can never disagree.
    """
    scope_out = pulumi.Output.from_input(scope)
    return authorization.RoleAssignment(
        name,
        principal_id=identity.principal_id,
        principal_type="ServicePrincipal",
        role_definition_id=scope_out.apply(lambda s: role_definition_id(subscription_of(s), role)),
        scope=scope_out,
        role_assignment_name=pulumi.Output.all(scope_out, identity.principal_id).apply(
            lambda v: assignment_name(v[0], role, v[1])
        ),
        opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=True),
    )


def grant_cache(
    parent: pulumi.Resource,
    name: str,
    identity: managedidentity.UserAssignedIdentity,
    cache: Cache,
    resource_group: pulumi.Input[str],
) -> redisenterprise.AccessPolicyAssignment:
    """Entra ID data access to the cache's database: Redis uses access policies, not RBAC roles."""
    return redisenterprise.AccessPolicyAssignment(
        name,
        access_policy_assignment_name=REDIS_ASSIGNMENT_NAME,
        access_policy_name=REDIS_ACCESS_POLICY,
        cluster_name=cache.cluster.name,
        database_name=cache.database.name,
        resource_group_name=resource_group,
        user=redisenterprise.AccessPolicyAssignmentPropertiesUserArgs(object_id=identity.principal_id),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def build_grants(
    parent: pulumi.Resource,
    config: FleetConfig,
    site: Site,
    *,
    identity: managedidentity.UserAssignedIdentity,
    queue: Queue,
    state: State,
) -> list[pulumi.Resource]:
    """The agents' rights: receive and send on this queue, and data access to this fleet's table,
    container and cache, each scoped to exactly that resource."""
    names = FleetNames(config.name)
    grants: list[pulumi.Resource] = [
        grant(parent, names.grant("queue-receiver"), identity, SERVICE_BUS_DATA_RECEIVER, queue.queue.id),
        # A retry with backoff re-enqueues a scheduled copy of the message (agent/backends/servicebus.py).
        grant(parent, names.grant("queue-sender"), identity, SERVICE_BUS_DATA_SENDER, queue.queue.id),
    ]
    if state.table is not None:
        grants.append(
            grant(parent, names.grant("table-data"), identity, STORAGE_TABLE_DATA_CONTRIBUTOR, state.table.id)
        )
    if state.container is not None:
        grants.append(
            grant(
                parent, names.grant("blob-data"), identity, STORAGE_BLOB_DATA_CONTRIBUTOR, state.container.id
            )
        )
    if state.cache is not None:
        grants.append(
            grant_cache(parent, names.grant("cache-access"), identity, state.cache, site.resource_group)
        )
    return grants


def protection_role_id(resource_group_id: str) -> str:
    """The custom role's GUID: one per resource group (so per fleet), stable across runs."""
    return str(uuid.uuid5(_NAMESPACE, f"{resource_group_id.lower()}|scale-in-protection"))


def build_scale_in_protection(
    parent: pulumi.Resource,
    config: FleetConfig,
    site: Site,
    *,
    identity: managedidentity.UserAssignedIdentity,
    scale_set: compute.VirtualMachineScaleSet,
) -> authorization.RoleAssignment:
    """The agents' right to protect their own VM from scale-in, on this scale set only.

    A custom role with exactly `SCALE_IN_PROTECTION_ACTIONS`, defined in (and assignable only
    within) this fleet's resource group, assigned to the agents' identity with the scale set as
    its scope. Custom roles can't be assignable at a single resource, so the role's assignable
    scope is the resource group and the assignment's scope is the scale set. The assignment
    needs the scale set to exist, so it can land after the first agents boot: until then their
    protection calls fail, which the runtime logs and counts, and work goes on.
    """
    names = FleetNames(config.name)
    group_id = pulumi.Output.from_input(site.resource_group_id)
    role_guid = group_id.apply(protection_role_id)
    role = authorization.RoleDefinition(
        names.protection_role,
        role_definition_id=role_guid,
        # Role names are unique in the tenant: the GUID part makes this one the fleet's own.
        role_name=role_guid.apply(lambda g: f"agentfleet scale-in protection {g}"),
        description=f"Lets the {config.name} agents set protectFromScaleIn on their own scale-set VM",
        role_type="CustomRole",
        scope=group_id,
        assignable_scopes=[group_id],
        permissions=[authorization.PermissionArgs(actions=list(SCALE_IN_PROTECTION_ACTIONS))],
        opts=pulumi.ResourceOptions(parent=parent),
    )
    scope = scale_set.id
    return authorization.RoleAssignment(
        names.grant("scale-in-protection"),
        principal_id=identity.principal_id,
        principal_type="ServicePrincipal",
        role_definition_id=pulumi.Output.all(scope, role_guid).apply(
            lambda v: role_definition_id(subscription_of(v[0]), v[1])
        ),
        scope=scope,
        role_assignment_name=pulumi.Output.all(scope, role_guid, identity.principal_id).apply(
            lambda v: assignment_name(v[0], v[1], v[2])
        ),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[role], delete_before_replace=True),
    )
