"""Google Secret Manager over its REST API, with the pod's Workload Identity.

`GET https://secretmanager.googleapis.com/v1/{name}/versions/latest:access` answers
`{"name": ..., "payload": {"data": BASE64}}` (Secret Manager REST reference,
`projects.secrets.versions.access`); a reference naming a version reads that one. The token is
the default credentials' (google-auth), which Workload Identity provides in a GKE pod.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from agentfleet.agent.secrets.base import SecretError
from agentfleet.agent.secrets.rest import get_json

ENDPOINT = "https://secretmanager.googleapis.com/v1"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"


class SecretManagerSecrets:
    def __init__(self, token: Callable[[], str] | None = None, *, endpoint: str = ENDPOINT) -> None:
        self._token = token or _default_credentials_token
        self._endpoint = endpoint.rstrip("/")

    def read(self, reference: str) -> str:
        version = reference if "/versions/" in reference else f"{reference}/versions/latest"
        answer = get_json(f"{self._endpoint}/{version}:access", self._token(), reference)
        data = answer.get("payload", {}).get("data") if isinstance(answer, dict) else None
        if not isinstance(data, str):
            raise SecretError(f"{reference} answered without a payload")
        try:
            return base64.b64decode(data, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise SecretError(f"{reference} holds data that is not UTF-8 text") from None


def _default_credentials_token() -> str:
    import google.auth
    import google.auth.transport.requests

    credentials: Any
    credentials, _ = google.auth.default(scopes=[SCOPE])
    credentials.refresh(google.auth.transport.requests.Request())
    return str(credentials.token)
