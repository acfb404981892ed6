"""AGENTFLEET_PROTECTION=azure-vmss: `protectFromScaleIn` on this scale-set VM, through ARM.

- Which VM: Azure IMDS `GET /metadata/instance/compute?api-version=2021-02-01` (header
  `Metadata: true`) gives `resourceId` — for a Uniform scale-set VM
  `/subscriptions/S/resourceGroups/G/providers/Microsoft.Compute/virtualMachineScaleSets/N/virtualMachines/I`
  — and `location`.
- The call (REST reference, "Virtual Machine Scale Set VMs - Update"):
  `PUT https://management.azure.com{resourceId}?api-version=2024-07-01` with
  `{"location": ..., "properties": {"protectionPolicy": {"protectFromScaleIn": true|false}}}`.
  Instance protection guide: "Protect from scale-in ... Protects instance from Autoscale initiated
  scale-in"; user-initiated deletes and scale-set operations are not blocked.
- Sign-in: the VM's user-assigned managed identity (`AZURE_CLIENT_ID`, set by the provider), a
  token for `https://management.azure.com/.default` from azure-identity, as agent/cache/entra.py
  does for Redis. The identity needs `Microsoft.Compute/virtualMachineScaleSets/virtualMachines/write`
  on this scale set only (a custom role; docs/DESIGN.md, "Busy agents").
- ARM throttles with HTTP 429 and `Retry-After` (seconds): `Throttled`.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

from agentfleet.agent.protection.base import ProtectionBackend, ProtectionError, Throttled, retry_after

if TYPE_CHECKING:
    from agentfleet.agent.protection import ProtectionSettings

DEFAULT_METADATA = "http://169.254.169.254"
COMPUTE_PATH = "/metadata/instance/compute?api-version=2021-02-01"
DEFAULT_ARM = "https://management.azure.com"
ARM_API_VERSION = "2024-07-01"
ARM_SCOPE = "https://management.azure.com/.default"
VMSS_VM_ID = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Compute/"
    r"virtualMachineScaleSets/[^/]+/virtualMachines/[^/]+$",
    re.IGNORECASE,
)


class VmssProtection(ProtectionBackend):
    kind = "azure-vmss"

    def __init__(
        self,
        credential: Any,
        *,
        metadata_url: str = DEFAULT_METADATA,
        arm_url: str = DEFAULT_ARM,
        timeout: float = 10.0,
    ) -> None:
        self.credential = credential
        self.metadata_url = metadata_url.rstrip("/")
        self.arm_url = arm_url.rstrip("/")
        self.timeout = timeout
        self.resource_id = ""
        self.location = ""

    def _own_vm(self) -> None:
        request = urllib.request.Request(f"{self.metadata_url}{COMPUTE_PATH}", headers={"Metadata": "true"})
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            compute = json.loads(response.read())
        resource_id = str(compute.get("resourceId", ""))
        if not VMSS_VM_ID.match(resource_id):
            raise ProtectionError(
                f"AGENTFLEET_PROTECTION=azure-vmss: IMDS resourceId {resource_id!r} is not a Uniform "
                "scale-set VM (.../virtualMachineScaleSets/NAME/virtualMachines/ID)"
            )
        self.resource_id, self.location = resource_id, str(compute.get("location", ""))

    def apply(self, protected: bool) -> None:
        if not self.resource_id:
            self._own_vm()
        token = self.credential.get_token(ARM_SCOPE).token
        body = {
            "location": self.location,
            "properties": {"protectionPolicy": {"protectFromScaleIn": protected}},
        }
        request = urllib.request.Request(
            f"{self.arm_url}{self.resource_id}?api-version={ARM_API_VERSION}",
            data=json.dumps(body).encode(),
            method="PUT",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()  # 200 OK, or 202 Accepted: the update runs on
        except urllib.error.HTTPError as error:
            detail = arm_error(error)
            if error.code == 429:
                raise Throttled(f"ARM 429: {detail}", retry_after(error.headers)) from error
            raise ProtectionError(f"ARM {error.code}: {detail}") from error

    def describe(self) -> dict[str, str]:
        return {"vm": self.resource_id}


def arm_error(error: urllib.error.HTTPError) -> str:
    """`code: message` from ARM's `{"error": {"code", "message"}}` body, else the raw text."""
    try:
        raw = error.read().decode("utf-8", errors="replace")
    except OSError:
        return str(error)
    try:
        inner = json.loads(raw).get("error", {})
        return f"{inner.get('code', '')}: {inner.get('message', '')}"
    except (ValueError, AttributeError):
        return raw[:200] or str(error)


def from_settings(settings: ProtectionSettings) -> VmssProtection:
    from azure.identity import DefaultAzureCredential

    # DefaultAzureCredential reads AZURE_CLIENT_ID for the user-assigned managed identity.
    return VmssProtection(DefaultAzureCredential())
