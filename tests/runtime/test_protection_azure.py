"""azure-vmss protection against local servers written from the documented requests:

- Azure IMDS `GET /metadata/instance/compute?api-version=2021-02-01` (header `Metadata: true`,
  else 400) answering a Uniform scale-set VM's `resourceId` and `location`;
- ARM "Virtual Machine Scale Set VMs - Update": `PUT {resourceId}?api-version=...` with a bearer
  token, body `{"location", "properties": {"protectionPolicy": {"protectFromScaleIn": bool}}}`;
  it keeps the VM's flag, answers 429 + `Retry-After` when told to throttle, 403 with ARM's
  `{"error": {"code", "message"}}` when the identity lacks the permission.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from prometheus_client import CollectorRegistry

from agentfleet.agent.protection import ProtectionError, Protector, Throttled
from agentfleet.agent.protection.azure import ARM_API_VERSION, ARM_SCOPE, VmssProtection
from tests.runtime.test_protection import hold, metric, serve_http, wait_until

VM_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/fleet-rg/providers/"
    "Microsoft.Compute/virtualMachineScaleSets/fleet-agents/virtualMachines/3"
)


@dataclass
class AzurePeer:
    resource_id: str = VM_ID
    protect_from_scale_in: bool | None = None
    throttle: int = 0
    deny: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)

    def answer(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], str]:
        parts = urlsplit(path)
        query = parse_qs(parts.query)
        if parts.path == "/metadata/instance/compute":
            if headers.get("Metadata") != "true" or query.get("api-version") != ["2021-02-01"]:
                return 400, {}, json.dumps({"error": "Bad request"})
            compute = {"resourceId": self.resource_id, "location": "westeurope", "name": "fleet-agents_3"}
            return 200, {}, json.dumps(compute)
        if method != "PUT" or parts.path != self.resource_id:
            return 404, {}, json.dumps({"error": {"code": "ResourceNotFound", "message": parts.path}})
        document = json.loads(body)
        self.requests.append({"headers": dict(headers), "query": query, "body": document})
        if headers.get("Authorization") != "Bearer arm-token":
            return 401, {}, json.dumps({"error": {"code": "InvalidAuthenticationToken", "message": "no"}})
        if query.get("api-version") != [ARM_API_VERSION]:
            return 400, {}, json.dumps({"error": {"code": "InvalidApiVersionParameter", "message": "?"}})
        if self.throttle > 0:
            self.throttle -= 1
            error = {"error": {"code": "TooManyRequests", "message": "throttled"}}
            return 429, {"Retry-After": "0"}, json.dumps(error)
        if self.deny:
            message = "does not have authorization to perform action 'virtualMachines/write'"
            return 403, {}, json.dumps({"error": {"code": "AuthorizationFailed", "message": message}})
        self.protect_from_scale_in = document["properties"]["protectionPolicy"]["protectFromScaleIn"]
        return 200, {}, json.dumps({"id": self.resource_id, "properties": document["properties"]})


def serve(peer: AzurePeer) -> AbstractContextManager[str]:
    return serve_http(peer.answer)


class Token:
    def __init__(self, token: str) -> None:
        self.token = token
        self.expires_on = 2_000_000_000


class ManagedIdentity:
    """Stands in for azure-identity's credential: one token for the ARM scope, nothing else."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    def get_token(self, *scopes: str) -> Token:
        self.scopes.extend(scopes)
        return Token("arm-token" if scopes == (ARM_SCOPE,) else "wrong-scope")


def backend(url: str, identity: ManagedIdentity | None = None) -> VmssProtection:
    return VmssProtection(identity or ManagedIdentity(), metadata_url=url, arm_url=url)


def test_protect_and_unprotect_this_vm_with_the_documented_request() -> None:
    peer = AzurePeer()
    with serve(peer) as url:
        identity = ManagedIdentity()
        vmss = backend(url, identity)
        vmss.apply(True)
        assert peer.protect_from_scale_in is True
        vmss.apply(False)
        assert peer.protect_from_scale_in is False
    assert vmss.resource_id == VM_ID
    first = peer.requests[0]
    assert first["body"] == {
        "location": "westeurope",
        "properties": {"protectionPolicy": {"protectFromScaleIn": True}},
    }
    assert first["headers"]["Content-Type"] == "application/json"
    assert set(identity.scopes) == {"https://management.azure.com/.default"}


def test_throttling_429_is_throttled_with_retry_after_and_the_protector_recovers() -> None:
    peer = AzurePeer(throttle=2)
    registry = CollectorRegistry()
    with serve(peer) as url:
        with pytest.raises(Throttled) as raised:
            backend(url).apply(True)
        assert raised.value.retry_after == 0.0
        p = Protector(backend(url), registry, min_backoff=0.01, max_backoff=0.05, idle_grace_seconds=0)
        try:
            release, thread = hold(p)
            assert wait_until(lambda: peer.protect_from_scale_in is True)
            release.set()
            thread.join(5)
            assert wait_until(lambda: peer.protect_from_scale_in is False)
        finally:
            p.stop()
    assert metric(registry, "agentfleet_protection_failures_total", {"reason": "throttled"}) == 1


def test_a_missing_role_is_an_error_naming_arms_reason_and_messages_still_succeed() -> None:
    from agentfleet.agent.middleware.base import SUCCEEDED, Outcome
    from tests.runtime.test_protection import message

    peer = AzurePeer(deny=True)
    registry = CollectorRegistry()
    with serve(peer) as url:
        with pytest.raises(ProtectionError, match="ARM 403: AuthorizationFailed"):
            backend(url).apply(True)
        p = Protector(backend(url), registry, min_backoff=0.01, max_backoff=0.05)
        try:
            assert p.process(message(), lambda m: Outcome(SUCCEEDED)).result == SUCCEEDED
            assert wait_until(
                lambda: metric(registry, "agentfleet_protection_failures_total", {"reason": "error"}) >= 2
            )
        finally:
            p.stop(timeout=1)
    assert peer.protect_from_scale_in is None


def test_a_vm_that_is_not_a_scale_set_instance_is_refused_clearly() -> None:
    plain_vm = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm1"
    with serve(AzurePeer(resource_id=plain_vm)) as url:
        with pytest.raises(ProtectionError, match="is not a Uniform scale-set VM"):
            backend(url).apply(True)
