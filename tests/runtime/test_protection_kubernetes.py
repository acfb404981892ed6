"""kubernetes-pod protection against a local server written from the documented pod PATCH:

`PATCH /api/v1/namespaces/{ns}/pods/{name}` with `Content-Type: application/merge-patch+json`
and the service account's bearer token; the server applies RFC 7386 to the pod's annotations
(a null deletes the key), answers 429 + `Retry-After` when told to throttle, and 403 with a
`Status` body when the service account may not patch pods.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from agentfleet.agent.protection import ProtectionError, ProtectionSettings, Protector, Throttled
from agentfleet.agent.protection.kubernetes import DELETION_COST, SAFE_TO_EVICT, PodProtection
from tests.runtime.test_protection import hold, metric, serve_http, wait_until

POD, NAMESPACE = "agents-7d9f-abcde", "fleet"


@dataclass
class ApiServer:
    annotations: dict[str, str] = field(default_factory=lambda: {"kept": "yes"})
    throttle: int = 0
    forbid: bool = False
    content_types: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)

    def answer(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], str]:
        if method != "PATCH" or path != f"/api/v1/namespaces/{NAMESPACE}/pods/{POD}":
            return 404, {}, json.dumps({"kind": "Status", "message": f"{path} not found", "code": 404})
        self.content_types.append(headers.get("Content-Type", ""))
        self.tokens.append(headers.get("Authorization", ""))
        if self.throttle > 0:
            self.throttle -= 1
            status = {"kind": "Status", "message": "Too many requests, please try again later.", "code": 429}
            return 429, {"Retry-After": "1"}, json.dumps(status)
        if self.forbid:
            message = f'pods "{POD}" is forbidden: User "system:serviceaccount:fleet:agent" cannot patch'
            return 403, {}, json.dumps({"kind": "Status", "message": message, "code": 403})
        if headers.get("Content-Type") != "application/merge-patch+json":
            return 415, {}, json.dumps({"kind": "Status", "message": "unsupported media type", "code": 415})
        patch = json.loads(body)["metadata"]["annotations"]
        for key, value in patch.items():  # RFC 7386
            if value is None:
                self.annotations.pop(key, None)
            else:
                self.annotations[key] = value
        return 200, {}, json.dumps({"kind": "Pod", "metadata": {"annotations": self.annotations}})


def serve(peer: ApiServer) -> AbstractContextManager[str]:
    return serve_http(peer.answer)


@pytest.fixture
def token(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text("sa-token-1\n")
    return path


def pod(url: str, token: Path) -> PodProtection:
    return PodProtection(name=POD, namespace=NAMESPACE, api_url=url, token_file=token)


def test_busy_annotates_the_pod_and_idle_removes_exactly_those_annotations(token: Path) -> None:
    api = ApiServer()
    with serve(api) as url:
        backend = pod(url, token)
        backend.apply(True)
        assert api.annotations == {"kept": "yes", DELETION_COST: "1000000", SAFE_TO_EVICT: "false"}
        token.write_text("sa-token-2")  # the kubelet rotated the projected token
        backend.apply(False)
        assert api.annotations == {"kept": "yes"}
    assert api.content_types == ["application/merge-patch+json"] * 2
    assert api.tokens == ["Bearer sa-token-1", "Bearer sa-token-2"]


def test_throttling_is_throttled_with_retry_after_and_the_protector_recovers(token: Path) -> None:
    api = ApiServer(throttle=1)
    registry = CollectorRegistry()
    with serve(api) as url:
        with pytest.raises(Throttled) as raised:
            pod(url, token).apply(True)
        assert raised.value.retry_after == 1.0
        api.throttle = 2
        p = Protector(pod(url, token), registry, min_backoff=0.01, max_backoff=0.05, idle_grace_seconds=3600)
        try:
            release, thread = hold(p)
            assert wait_until(lambda: api.annotations.get(SAFE_TO_EVICT) == "false", timeout=20)
            release.set()
            thread.join(5)
        finally:
            p.stop()
    assert metric(registry, "agentfleet_protection_failures_total", {"reason": "throttled"}) == 2


def test_forbidden_is_an_error_with_the_api_servers_message(token: Path) -> None:
    with serve(ApiServer(forbid=True)) as url:
        with pytest.raises(ProtectionError, match="Kubernetes 403: .*cannot patch"):
            pod(url, token).apply(True)


def test_pod_settings_come_from_the_downward_api_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = ProtectionSettings.from_env(
        {
            "AGENTFLEET_PROTECTION": "kubernetes-pod",
            "AGENTFLEET_POD_NAME": POD,
            "AGENTFLEET_POD_NAMESPACE": NAMESPACE,
        }
    )
    from agentfleet.agent.protection.kubernetes import from_settings

    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ValueError, match="KUBERNETES_SERVICE_HOST is not set"):
        from_settings(settings)
