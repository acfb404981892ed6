"""Realistic answers for Pulumi's mock runtime on Azure (`agentfleet plan`, the tests).

Each resource gets the ARM id Azure would give it, built from its own name and its parents'
names (so "this role assignment's scope is that queue" can be asserted on real-looking ids), its
auto-generated name when the program leaves the name to Pulumi (name + 8 hex characters, as
azure-native's auto-naming does), and the computed outputs the program reads: Service Bus
`serviceBusEndpoint`, storage `primaryEndpoints`, identity `principalId`/`clientId`, Managed Redis
`hostName` and its database's `port`, and so on.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from typing import Any

SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"
TENANT_ID = "11111111-1111-1111-1111-111111111111"
DEPLOYER_OBJECT_ID = "22222222-2222-2222-2222-222222222222"
DEFAULT_LOCATION = "westeurope"


def _suffix(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:8]


def _uuid(kind: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"agentfleet-mock/{kind}/{name}"))


def _rg(inputs: Mapping[str, Any]) -> str:
    return f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{inputs.get('resourceGroupName', 'unknown-rg')}"


def _provider(inputs: Mapping[str, Any], path: str) -> str:
    return f"{_rg(inputs)}/providers/{path}"


Builder = Callable[[str, Mapping[str, Any]], tuple[str, dict[str, Any]]]


def _resource_group(n: str, i: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    # Its location is the generic one (resource_outputs): its own, or its provider's.
    return f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{n}", {
        "properties": {"provisioningState": "Succeeded"},
    }


def _namespace(n: str, i: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return _provider(i, f"Microsoft.ServiceBus/namespaces/{n}"), {
        "serviceBusEndpoint": f"https://{n}.servicebus.windows.net:443/",
        "metricId": f"{SUBSCRIPTION_ID}:{n}",
        "status": "Active",
        "provisioningState": "Succeeded",
    }


def _queue(n: str, i: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    ns = i.get("namespaceName", "unknown-ns")
    return _provider(i, f"Microsoft.ServiceBus/namespaces/{ns}/queues/{n}"), {
        "status": "Active",
        "countDetails": {"activeMessageCount": 0, "deadLetterMessageCount": 0},
    }


def _storage_account(n: str, i: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    services = ("blob", "queue", "table", "file", "dfs", "web")
    endpoints = {svc: f"https://{n}.{svc}.core.windows.net/" for svc in services}
    return _provider(i, f"Microsoft.Storage/storageAccounts/{n}"), {
        "primaryEndpoints": endpoints,
        "primaryLocation": i.get("location", DEFAULT_LOCATION),
        "provisioningState": "Succeeded",
    }


def _table(n: str, i: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    acct = i.get("accountName", "unknown")
    return _provider(i, f"Microsoft.Storage/storageAccounts/{acct}/tableServices/default/tables/{n}"), {}


def _container(n: str, i: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    acct = i.get("accountName", "unknown")
    return _provider(i, f"Microsoft.Storage/storageAccounts/{acct}/blobServices/default/containers/{n}"), {}


def _redis_cluster(n: str, i: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    location = i.get("location", DEFAULT_LOCATION)
    return _provider(i, f"Microsoft.Cache/redisEnterprise/{n}"), {
        "hostName": f"{n}.{location}.redis.azure.net",
        "provisioningState": "Succeeded",
        "resourceState": "Running",
    }


def _redis_database(n: str, i: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    cluster = i.get("clusterName", "unknown")
    return _provider(i, f"Microsoft.Cache/redisEnterprise/{cluster}/databases/{n}"), {
        "port": i.get("port", 10000),
        "provisioningState": "Succeeded",
    }


def _redis_policy(n: str, i: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    cluster, db = i.get("clusterName", "unknown"), i.get("databaseName", "unknown")
    path = f"Microsoft.Cache/redisEnterprise/{cluster}/databases/{db}/accessPolicyAssignments/{n}"
    return _provider(i, path), {"provisioningState": "Succeeded"}


def _network(kind: str) -> Builder:
    def build(n: str, i: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        extra: dict[str, Any] = {}
        if kind == "publicIPAddresses":
            extra["ipAddress"] = "20.50.0.10"
        return _provider(i, f"Microsoft.Network/{kind}/{n}"), extra

    return build


def _subnet(n: str, i: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    vnet = i.get("virtualNetworkName", "unknown")
    return _provider(i, f"Microsoft.Network/virtualNetworks/{vnet}/subnets/{n}"), {}


def _identity(n: str, i: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return _provider(i, f"Microsoft.ManagedIdentity/userAssignedIdentities/{n}"), {
        "principalId": _uuid("principal", n),
        "clientId": _uuid("client", n),
        "tenantId": TENANT_ID,
    }


def _role_assignment(n: str, i: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return f"{i.get('scope', '')}/providers/Microsoft.Authorization/roleAssignments/{n}", {}


def _scale_set(n: str, i: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    computed: dict[str, Any] = {"uniqueId": _uuid("vmss", n), "provisioningState": "Succeeded"}
    identity = i.get("identity")
    if isinstance(identity, Mapping):
        # The API takes a list of identity ids but answers with a map id -> {principalId, clientId}.
        ids = identity.get("userAssignedIdentities") or []
        computed["identity"] = {
            "type": identity.get("type"),
            "userAssignedIdentities": {
                uid: {
                    "principalId": _uuid("principal", str(uid).rsplit("/", 1)[-1]),
                    "clientId": _uuid("client", str(uid).rsplit("/", 1)[-1]),
                }
                for uid in ids
            },
        }
    return _provider(i, f"Microsoft.Compute/virtualMachineScaleSets/{n}"), computed


def _insights(kind: str) -> Builder:
    def build(n: str, i: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        return _provider(i, f"Microsoft.Insights/{kind}/{n}"), {}

    return build


def _role_definition(n: str, i: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return f"{i.get('scope', '')}/providers/Microsoft.Authorization/roleDefinitions/{n}", {}


def _diagnostic(n: str, i: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return f"{i.get('resourceUri', '')}/providers/Microsoft.Insights/diagnosticSettings/{n}", {}


def _vault(n: str, i: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    properties = dict(i.get("properties") or {})
    properties["vaultUri"] = f"https://{n}.vault.azure.net/"
    return _provider(i, f"Microsoft.KeyVault/vaults/{n}"), {"properties": properties}


def _secret(n: str, i: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The ARM answer: the secret's URIs and never its value ("'value' will never be returned")."""
    vault = i.get("vaultName", "unknown")
    uri = f"https://{vault}.vault.azure.net/secrets/{n}"
    version = _uuid("secret-version", f"{vault}/{n}").replace("-", "")
    return _provider(i, f"Microsoft.KeyVault/vaults/{vault}/secrets/{n}"), {
        "properties": {"secretUri": uri, "secretUriWithVersion": f"{uri}/{version}"}
    }


def _workspace(n: str, i: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    rid = _provider(i, f"Microsoft.OperationalInsights/workspaces/{n}")
    return rid, {"customerId": _uuid("workspace", n)}


#: type token -> (input that names the resource, builder of (id, computed outputs))
RESOURCES: dict[str, tuple[str, Builder]] = {
    "azure-native:resources:ResourceGroup": ("resourceGroupName", _resource_group),
    "azure-native:servicebus:Namespace": ("namespaceName", _namespace),
    "azure-native:servicebus:Queue": ("queueName", _queue),
    "azure-native:storage:StorageAccount": ("accountName", _storage_account),
    "azure-native:storage:Table": ("tableName", _table),
    "azure-native:storage:BlobContainer": ("containerName", _container),
    "azure-native:redisenterprise:RedisEnterprise": ("clusterName", _redis_cluster),
    "azure-native:redisenterprise:Database": ("databaseName", _redis_database),
    "azure-native:redisenterprise:AccessPolicyAssignment": ("accessPolicyAssignmentName", _redis_policy),
    "azure-native:network:NetworkSecurityGroup": (
        "networkSecurityGroupName",
        _network("networkSecurityGroups"),
    ),
    "azure-native:network:VirtualNetwork": ("virtualNetworkName", _network("virtualNetworks")),
    "azure-native:network:NatGateway": ("natGatewayName", _network("natGateways")),
    "azure-native:network:PublicIPAddress": ("publicIpAddressName", _network("publicIPAddresses")),
    "azure-native:network:Subnet": ("subnetName", _subnet),
    "azure-native:managedidentity:UserAssignedIdentity": ("resourceName", _identity),
    "azure-native:authorization:RoleAssignment": ("roleAssignmentName", _role_assignment),
    "azure-native:authorization:RoleDefinition": ("roleDefinitionId", _role_definition),
    "azure-native:compute:VirtualMachineScaleSet": ("vmScaleSetName", _scale_set),
    "azure-native:monitor:AutoscaleSetting": ("autoscaleSettingName", _insights("autoscalesettings")),
    "azure-native:monitor:MetricAlert": ("ruleName", _insights("metricAlerts")),
    "azure-native:monitor:DiagnosticSetting": ("name", _diagnostic),
    "azure-native:operationalinsights:Workspace": ("workspaceName", _workspace),
    "azure-native:keyvault:Vault": ("vaultName", _vault),
    "azure-native:keyvault:Secret": ("secretName", _secret),
}


def resource_outputs(
    typ: str, name: str, inputs: dict[str, Any], config: Mapping[str, str]
) -> tuple[str, dict[str, Any]]:
    """(id, computed outputs) for one resource the program registered."""
    entry = RESOURCES.get(typ)
    if entry is None:
        return f"{name}-id", {"name": name}
    name_key, builder = entry
    actual = inputs.get(name_key) or f"{name}{_suffix(name)}"
    rid, computed = builder(actual, inputs)
    location = inputs.get("location") or config.get("azure-native:location", DEFAULT_LOCATION)
    return rid, {name_key: actual, "name": actual, "location": location, **computed}


def invoke(token: str, args: dict[str, Any], config: Mapping[str, str]) -> dict[str, Any]:
    """Answers for the invokes the Azure provider makes."""
    if token == "azure-native:authorization:getClientConfig":
        return {
            "clientId": _uuid("client", "deployer"),
            "objectId": DEPLOYER_OBJECT_ID,
            "subscriptionId": SUBSCRIPTION_ID,
            "tenantId": TENANT_ID,
        }
    raise NotImplementedError(f"agentfleet.providers.azure.mocks has no answer for invoke {token}")


#: Made-up values that look real, labelled by `agentfleet plan`.
STAND_INS = {
    SUBSCRIPTION_ID: "subscription id",
    TENANT_ID: "tenant id",
    DEPLOYER_OBJECT_ID: "object id of whoever runs pulumi up",
}
