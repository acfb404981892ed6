"""Azure Key Vault secrets over Key Vault's REST API, with the agent's managed identity.

`GET {secret URI}?api-version=7.4` with a token for `https://vault.azure.net/.default` answers
`{"value": ..., "id": ...}` (Key Vault REST reference, "Get Secret"); a URI without a version
reads the current one. The token comes from azure-identity (the managed identity named by
AZURE_CLIENT_ID), as ctx.cache's Entra sign-in does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentfleet.agent.secrets.base import SecretError
from agentfleet.agent.secrets.rest import get_json

API_VERSION = "7.4"
SCOPE = "https://vault.azure.net/.default"


class KeyVaultSecrets:
    def __init__(self, token: Callable[[], str] | None = None, *, base_url: str | None = None) -> None:
        """`base_url` replaces `https://VAULT.vault.azure.net` (a local test server)."""
        self._token = token or _managed_identity_token
        self._base_url = base_url

    def read(self, reference: str) -> str:
        url = reference.rstrip("/")
        if self._base_url is not None:
            url = self._base_url.rstrip("/") + url[url.index("/secrets/") :]
        answer = get_json(f"{url}?api-version={API_VERSION}", self._token(), reference)
        value = answer.get("value") if isinstance(answer, dict) else None
        if not isinstance(value, str):
            raise SecretError(f"{reference} answered without a value")
        return value


def _managed_identity_token() -> str:
    from azure.identity import DefaultAzureCredential

    credential: Any = DefaultAzureCredential()
    return str(credential.get_token(SCOPE).token)
