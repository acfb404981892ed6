"""`agent.secrets` on Azure: a Key Vault per fleet for the values, read rights on exactly the
fleet's secrets, and the agent told where they are (`AGENTFLEET_SECRETS`, name -> secret URI).

A value is stored as a Key Vault secret in the fleet's own vault (RBAC authorization, soft delete
and purge protection); the agent gets the secret's URI without a version, never the value: it
reads the current version at start and again every AGENTFLEET_SECRETS_REFRESH seconds, so a
new value set by `pulumi up` reaches running agents without a new release replacing them. A
`{ref: https://VAULT.vault.azure.net/secrets/NAME[/VERSION]}` is a secret the user keeps: its
vault's resource id comes from `fleet.azure.key_vault_ids` (settings.py says why).

The agents' identity gets the built-in role Key Vault Secrets User on each secret, not on the
vault: "Azure RBAC for key vault also allows users to have separate permissions on individual
keys, secrets, and certificates." A fleet without secrets creates no vault and no grant.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import urlparse

import pulumi
from pulumi_azure_native import authorization, keyvault, managedidentity

from agentfleet.components.schema import FleetConfig
from agentfleet.components.secrets import secret_references, secrets_to_store
from agentfleet.providers.azure.identity import grant
from agentfleet.providers.azure.names import FleetNames, Site, secret_name, vault_name
from agentfleet.providers.azure.settings import AzureSettings, vault_of

#: Built-in role "Key Vault Secrets User": "Read secret contents."
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
#: "softDelete data retention days. It accepts >=7 and <=90": the longest, the portal's default.
SOFT_DELETE_RETENTION_DAYS = 90


@dataclass
class Secrets:
    """variable -> the URI the agent reads; the grants the scale set must wait for."""

    references: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    grants: list[authorization.RoleAssignment] = field(default_factory=list)
    vault: keyvault.Vault | None = None

    def environment(self) -> pulumi.Output[str] | None:
        """`AGENTFLEET_SECRETS` (agent/secrets/__init__.py), or None without secrets."""
        if not self.references:
            return None
        return pulumi.Output.all(**self.references).apply(lambda refs: json.dumps(refs, sort_keys=True))


def secret_scope(vault_id: str, reference: str) -> str:
    """The ARM scope of the secret a URI names: `<vault id>/secrets/NAME` (a role is granted on the
    secret, whatever version the URI pins)."""
    name = urlparse(reference).path.split("/")[2]
    return f"{vault_id}/secrets/{name}"


def build_vault(
    parent: pulumi.Resource, config: FleetConfig, site: Site, *, tenant_id: pulumi.Input[str]
) -> keyvault.Vault:
    names = FleetNames(config.name)
    return keyvault.Vault(
        names.vault,
        vault_name=pulumi.Output.from_input(site.resource_group_id).apply(
            lambda rg: vault_name(names.fleet, rg)
        ),
        resource_group_name=site.resource_group,
        location=site.location,
        properties=keyvault.VaultPropertiesArgs(
            # "The Azure Active Directory tenant ID that should be used for authenticating requests
            # to the key vault": the agents' identity's own tenant.
            tenant_id=tenant_id,
            sku=keyvault.SkuArgs(family=keyvault.SkuFamily.A, name=keyvault.SkuName.STANDARD),
            # "When true, the key vault will use Role Based Access Control (RBAC) for authorization
            # of data actions, and the access policies specified in vault properties will be ignored."
            enable_rbac_authorization=True,
            enable_soft_delete=True,
            soft_delete_retention_in_days=SOFT_DELETE_RETENTION_DAYS,
            # "only the Key Vault service may initiate a hard, irrecoverable deletion ... Enabling
            # this functionality is irreversible": a deleted vault's name stays taken for the
            # retention period, which names.vault_name allows for.
            enable_purge_protection=True,
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def build_secrets(
    parent: pulumi.Resource,
    config: FleetConfig,
    site: Site,
    *,
    identity: managedidentity.UserAssignedIdentity,
) -> Secrets:
    stored = secrets_to_store(config)
    referenced = secret_references(config)
    secrets = Secrets()
    if not stored and not referenced:
        return secrets
    names = FleetNames(config.name)
    opts = pulumi.ResourceOptions(parent=parent)

    def read_grant(variable: str, scope: pulumi.Input[str]) -> authorization.RoleAssignment:
        """Key Vault Secrets User for the agents on exactly the secret of `variable`."""
        return grant(
            parent, names.grant(f"read-{secret_name(variable)}"), identity, KEY_VAULT_SECRETS_USER, scope
        )

    if stored:
        secrets.vault = build_vault(parent, config, site, tenant_id=identity.tenant_id)
        for variable, value in stored.items():
            secret = keyvault.Secret(
                names.secret(variable),
                resource_group_name=site.resource_group,
                vault_name=secrets.vault.name,
                secret_name=secret_name(variable),
                properties=keyvault.SecretPropertiesArgs(value=value),
                opts=opts,
            )
            # The URI is a reference, not the value: unmarked so the release that carries it is
            # not a secret as a whole (the engine marks every output of a secret input).
            secrets.references[variable] = pulumi.Output.unsecret(secret.properties.secret_uri)
            secrets.grants.append(read_grant(variable, secret.id))
    settings = config.settings_for(AzureSettings)
    for variable, reference in referenced.items():
        vault_id = settings.vault_id(vault_of(reference))
        if vault_id is None:  # settings.validate refuses this before anything registers
            raise ValueError(f"fleet.agent.secrets.{variable}.ref: no vault id for {reference}")
        secrets.references[variable] = reference
        secrets.grants.append(read_grant(variable, secret_scope(vault_id, reference)))
    return secrets
