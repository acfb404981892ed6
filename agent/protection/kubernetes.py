"""AGENTFLEET_PROTECTION=kubernetes-pod: annotations on this pod, through the in-cluster API.

- `controller.kubernetes.io/pod-deletion-cost` (Kubernetes docs, ReplicaSet: "pods with lower
  deletion cost are preferred to be deleted before pods with higher deletion cost"; unset = 0):
  `BUSY_DELETION_COST` while busy, removed while idle — a Deployment scaled down by KEDA/HPA
  removes idle pods first.
- `cluster-autoscaler.kubernetes.io/safe-to-evict: "false"` while busy (cluster-autoscaler FAQ:
  such a pod blocks its node's scale-down), removed while idle.
- The call: `PATCH /api/v1/namespaces/{AGENTFLEET_POD_NAMESPACE}/pods/{AGENTFLEET_POD_NAME}` with
  `Content-Type: application/merge-patch+json` (RFC 7386: a null value deletes the key), the
  service account token (re-read each call: the kubelet rotates it) and the cluster CA from
  /var/run/secrets/kubernetes.io/serviceaccount, at https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT.
  RBAC: `patch` on `pods` in the namespace, nothing else.
- The API server throttles with 429 and `Retry-After` (API Priority and Fairness): `Throttled`.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from agentfleet.agent.protection.base import ProtectionBackend, ProtectionError, Throttled, retry_after

if TYPE_CHECKING:
    from agentfleet.agent.protection import ProtectionSettings

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict"
#: Any positive int32 ranks a busy pod after every idle (unannotated, cost 0) pod.
BUSY_DELETION_COST = "1000000"


def pod_annotations(protected: bool) -> dict[str, str | None]:
    if protected:
        return {DELETION_COST: BUSY_DELETION_COST, SAFE_TO_EVICT: "false"}
    return {DELETION_COST: None, SAFE_TO_EVICT: None}


class PodProtection(ProtectionBackend):
    kind = "kubernetes-pod"

    def __init__(
        self,
        *,
        name: str,
        namespace: str,
        api_url: str,
        token_file: Path = SERVICE_ACCOUNT / "token",
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not name or not namespace:
            raise ValueError(
                "AGENTFLEET_PROTECTION=kubernetes-pod needs AGENTFLEET_POD_NAME and AGENTFLEET_POD_NAMESPACE "
                f"(the downward API's metadata.name / metadata.namespace; got {name!r}, {namespace!r})"
            )
        self.name = name
        self.namespace = namespace
        self.api_url = api_url.rstrip("/")
        self.token_file = token_file
        self.ssl_context = ssl_context
        self.timeout = timeout

    def apply(self, protected: bool) -> None:
        body = json.dumps({"metadata": {"annotations": pod_annotations(protected)}}).encode()
        request = urllib.request.Request(
            f"{self.api_url}/api/v1/namespaces/{self.namespace}/pods/{self.name}",
            data=body,
            method="PATCH",
            headers={
                "Authorization": f"Bearer {self.token_file.read_text().strip()}",
                "Content-Type": "application/merge-patch+json",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self.ssl_context) as response:
                response.read()
        except urllib.error.HTTPError as error:
            detail = status_message(error)
            if error.code == 429:
                raise Throttled(f"Kubernetes 429: {detail}", retry_after(error.headers)) from error
            raise ProtectionError(f"Kubernetes {error.code}: {detail}") from error

    def describe(self) -> dict[str, str]:
        return {"pod": f"{self.namespace}/{self.name}"}


def status_message(error: urllib.error.HTTPError) -> str:
    """The `message` of the API server's `Status` body, else the raw text."""
    try:
        raw = error.read().decode("utf-8", errors="replace")
    except OSError:
        return str(error)
    try:
        return str(json.loads(raw).get("message", raw[:200]))
    except (ValueError, AttributeError):
        return raw[:200] or str(error)


def from_settings(settings: ProtectionSettings) -> PodProtection:
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise ValueError(
            "AGENTFLEET_PROTECTION=kubernetes-pod: KUBERNETES_SERVICE_HOST is not set (not in a pod?)"
        )
    if ":" in host:
        host = f"[{host}]"  # an IPv6 service address
    context = ssl.create_default_context(cafile=str(SERVICE_ACCOUNT / "ca.crt"))
    return PodProtection(
        name=settings.pod_name,
        namespace=settings.pod_namespace,
        api_url=f"https://{host}:{port}",
        ssl_context=context,
    )
