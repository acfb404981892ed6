"""What `agentfleet plan` shows for each Azure resource type: the settings a reviewer cares about.

Paths are dotted input keys as azure-native names them (camelCase); `[*]` maps over a list.
"""

from __future__ import annotations

_VM = "virtualMachineProfile"
_RULES = "profiles[*].rules[*]"

KEY_SETTINGS: dict[str, list[str]] = {
    "azure-native:resources:ResourceGroup": ["location"],
    "azure-native:servicebus:Namespace": ["sku.name", "minimumTlsVersion", "disableLocalAuth"],
    "azure-native:servicebus:Queue": [
        "queueName",
        "lockDuration",
        "maxDeliveryCount",
        "deadLetteringOnMessageExpiration",
        "defaultMessageTimeToLive",
    ],
    "azure-native:storage:StorageAccount": [
        "accountName",
        "sku.name",
        "minimumTlsVersion",
        "enableHttpsTrafficOnly",
        "allowBlobPublicAccess",
        "allowSharedKeyAccess",
    ],
    "azure-native:storage:Table": ["tableName"],
    "azure-native:storage:BlobContainer": ["containerName", "publicAccess"],
    "azure-native:redisenterprise:RedisEnterprise": ["sku.name", "minimumTlsVersion", "publicNetworkAccess"],
    "azure-native:redisenterprise:Database": [
        "clientProtocol",
        "port",
        "clusteringPolicy",
        "accessKeysAuthentication",
    ],
    "azure-native:redisenterprise:AccessPolicyAssignment": ["accessPolicyName", "user.objectId"],
    "azure-native:network:NetworkSecurityGroup": [
        "securityRules[*].name",
        "securityRules[*].access",
        "securityRules[*].sourceAddressPrefix",
    ],
    "azure-native:network:VirtualNetwork": ["addressSpace.addressPrefixes"],
    "azure-native:network:Subnet": ["addressPrefix", "defaultOutboundAccess", "natGateway.id"],
    "azure-native:network:NatGateway": ["sku.name", "idleTimeoutInMinutes"],
    "azure-native:network:PublicIPAddress": ["sku.name", "publicIPAllocationMethod"],
    "azure-native:managedidentity:UserAssignedIdentity": ["location"],
    "azure-native:authorization:RoleAssignment": ["roleDefinitionId", "scope", "principalType"],
    "azure-native:authorization:RoleDefinition": ["roleName", "permissions[*].actions", "assignableScopes"],
    "azure-native:compute:VirtualMachineScaleSet": [
        "sku.name",
        "sku.capacity",
        "identity.type",
        "upgradePolicy.mode",
        "upgradePolicy.rollingUpgradePolicy.maxBatchInstancePercent",
        "upgradePolicy.rollingUpgradePolicy.maxUnhealthyInstancePercent",
        "upgradePolicy.rollingUpgradePolicy.maxSurge",
        "automaticRepairsPolicy.gracePeriod",
        f"{_VM}.priority",
        f"{_VM}.evictionPolicy",
        f"{_VM}.scheduledEventsProfile.terminateNotificationProfile.notBeforeTimeout",
        f"{_VM}.extensionProfile.extensions[*].typeHandlerVersion",
        f"{_VM}.extensionProfile.extensions[*].settings.requestPath",
        f"{_VM}.extensionProfile.extensions[*].settings.port",
        f"{_VM}.osProfile.linuxConfiguration.disablePasswordAuthentication",
    ],
    "azure-native:monitor:AutoscaleSetting": [
        "targetResourceUri",
        "profiles[*].capacity",
        f"{_RULES}.metricTrigger.metricName",
        f"{_RULES}.metricTrigger.dividePerInstance",
        f"{_RULES}.metricTrigger.operator",
        f"{_RULES}.metricTrigger.threshold",
        f"{_RULES}.scaleAction.type",
        f"{_RULES}.scaleAction.cooldown",
    ],
    "azure-native:monitor:DiagnosticSetting": ["resourceUri", "workspaceId"],
    "azure-native:monitor:MetricAlert": [
        "severity",
        "windowSize",
        "criteria.allOf[*].criterionType",
        "criteria.allOf[*].metricName",
        "criteria.allOf[*].operator",
        "criteria.allOf[*].threshold",
    ],
    "azure-native:operationalinsights:Workspace": ["sku.name", "retentionInDays"],
    "azure-native:keyvault:Vault": [
        "vaultName",
        "properties.enableRbacAuthorization",
        "properties.enableSoftDelete",
        "properties.softDeleteRetentionInDays",
        "properties.enablePurgeProtection",
    ],
    # Never `properties.value`: it is a secret, and plan would show only `[secret]` anyway.
    "azure-native:keyvault:Secret": ["secretName"],
}
