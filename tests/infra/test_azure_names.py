"""Every name the Azure fleet gives a resource obeys that service's naming rules, for the longest
legal fleet names (24 characters).

The rules are Azure's own ("Naming rules and restrictions for Azure resources", learn.microsoft.com
/azure/azure-resource-manager/management/resource-name-rules). Names the program leaves to Pulumi
get azure-native's auto-name suffix (8 hex characters), as `providers.azure.mocks` reproduces.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from agentfleet.providers.azure.mocks import RESOURCES
from agentfleet.synth import Synthesis
from tests.infra.helpers import synth

#: Longest legal fleet names (components/schema.py: 3-24 chars, lowercase letter first, then
#: lowercase letters, digits or '-'), hyphens where they hurt most.
LONGEST = ["inventory-reconciler-eu1", "a23456789012345678901234", "a-b-c-d-e-f-g-h-i-j-k-l1"]

_NET = r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9_])?"  # Microsoft.Network: alnum first, alnum/_ last
_ALNUM_HYPHEN = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
_GENERIC = r"[^<>%&:\\?/#*]+"  # what ARM accepts in any resource name
_GUID = r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}"
#: Linux scale set names: none of \ / " [ ] : | < > + = ; , ? * @ &, no period or hyphen at the end.
_VMSS = r"[A-Za-z0-9]([^\\/\"\[\]:|<>+=;,?*@&]*[^.\-])?"

#: type token -> (min length, max length, full-match pattern, what the rule is)
RULES: dict[str, tuple[int, int, str, str]] = {
    "azure-native:resources:ResourceGroup": (1, 90, r"[-\w.()]*[-\w()]", "resource group"),
    "azure-native:servicebus:Namespace": (6, 50, r"[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]", "global, DNS label"),
    "azure-native:servicebus:Queue": (1, 260, r"[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?", "queue"),
    "azure-native:storage:StorageAccount": (3, 24, r"[a-z0-9]+", "global, lowercase letters and digits"),
    "azure-native:storage:Table": (3, 63, r"[A-Za-z][A-Za-z0-9]*", "alphanumeric, letter first"),
    "azure-native:storage:BlobContainer": (3, 63, r"[a-z0-9](?!.*--)[a-z0-9-]*[a-z0-9]", "container"),
    "azure-native:redisenterprise:RedisEnterprise": (1, 60, r"(?!.*--)" + _ALNUM_HYPHEN, "no '--'"),
    "azure-native:redisenterprise:Database": (7, 7, "default", "the only database name allowed"),
    "azure-native:redisenterprise:AccessPolicyAssignment": (1, 60, r"[A-Za-z0-9]+", "letters, digits"),
    "azure-native:network:NetworkSecurityGroup": (1, 80, _NET, "network"),
    "azure-native:network:VirtualNetwork": (2, 64, _NET, "network"),
    "azure-native:network:Subnet": (1, 80, _NET, "network"),
    "azure-native:network:NatGateway": (1, 80, _NET, "network"),
    "azure-native:network:PublicIPAddress": (1, 80, _NET, "network"),
    "azure-native:managedidentity:UserAssignedIdentity": (3, 128, r"[A-Za-z0-9][A-Za-z0-9_-]*", "identity"),
    "azure-native:authorization:RoleAssignment": (36, 36, _GUID, "GUID"),
    "azure-native:authorization:RoleDefinition": (36, 36, _GUID, "GUID"),
    "azure-native:compute:VirtualMachineScaleSet": (1, 64, _VMSS, "Linux scale set"),
    "azure-native:operationalinsights:Workspace": (4, 63, _ALNUM_HYPHEN, "workspace"),
    "azure-native:monitor:AutoscaleSetting": (1, 260, _GENERIC, "autoscale setting"),
    "azure-native:monitor:MetricAlert": (1, 260, _GENERIC, "metric alert"),
    "azure-native:monitor:DiagnosticSetting": (1, 260, _GENERIC, "diagnostic setting"),
}  # fmt: skip


@pytest.fixture(scope="module", params=LONGEST)
def stack(request: pytest.FixtureRequest) -> Synthesis:
    name = request.param
    assert len(name) == 24
    return synth("azure", {"name": name, "state": {"table": True, "bucket": True, "cache": True}})


def _actual_name(typ: str, outputs: dict[str, Any]) -> str:
    key, _ = RESOURCES[typ]
    return str(outputs[key])


def test_every_azure_resource_type_has_a_naming_rule(stack: Synthesis) -> None:
    types = {r.type for r in stack.resources if r.type.startswith("azure-native:")}
    assert types <= set(RULES), sorted(types - set(RULES))


def test_every_name_fits_its_service_s_rules(stack: Synthesis) -> None:
    broken = []
    for r in stack.resources:
        if not r.type.startswith("azure-native:"):
            continue
        low, high, pattern, rule = RULES[r.type]
        name = _actual_name(r.type, r.outputs)
        if not (low <= len(name) <= high and re.fullmatch(pattern, name)):
            broken.append(f"{r.type} {name!r} ({len(name)} chars): {low}-{high}, {rule}")
    assert broken == []


def test_service_bus_namespace_avoids_the_reserved_endings(stack: Synthesis) -> None:
    namespace = "azure-native:servicebus:Namespace"
    name = _actual_name(namespace, stack.one(namespace).outputs)
    assert not name.endswith(("-sb", "-mgmt"))


def test_scale_set_host_names_fit_linux_limits(stack: Synthesis) -> None:
    profile = stack.one("azure-native:compute:VirtualMachineScaleSet").inputs["virtualMachineProfile"]
    prefix = profile["osProfile"]["computerNamePrefix"]
    # A Uniform scale set appends a 6-character instance id; Linux host names are 1-64 characters.
    assert len(prefix) + 6 <= 64 and re.fullmatch(r"[a-z0-9][a-z0-9-]*", prefix)
    for nic in profile["networkProfile"]["networkInterfaceConfigurations"]:
        assert re.fullmatch(_NET, nic["name"]) and len(nic["name"]) <= 80
        for ip in nic["ipConfigurations"]:
            assert re.fullmatch(_NET, ip["name"]) and len(ip["name"]) <= 80
