"""Microsoft Entra credentials for Azure's Redis services, as redis-py's `CredentialProvider`.

Azure's documented scheme: the user name is the object id (`oid` claim) of the identity the
token was issued to, the password is an access token for the scope
`https://redis.azure.com/.default`. Tokens last about an hour; redis-py asks the provider on every
new connection, so the token is cached and renewed `RENEW_BEFORE_SECONDS` before it expires.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

from redis.credentials import CredentialProvider

SCOPE = "https://redis.azure.com/.default"
RENEW_BEFORE_SECONDS = 300


class EntraRedisCredentials(CredentialProvider):
    def __init__(self, credential: Any = None, *, clock: Any = time.time) -> None:
        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        self.credential = credential
        self.clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_on = 0.0
        self._object_id = ""

    def get_credentials(self) -> tuple[str, str]:
        with self._lock:
            if self._token is None or self.clock() >= self._expires_on - RENEW_BEFORE_SECONDS:
                access = self.credential.get_token(SCOPE)
                self._token = str(access.token)
                self._expires_on = float(access.expires_on)
                self._object_id = object_id(self._token)
            return self._object_id, self._token


def object_id(token: str) -> str:
    """The `oid` claim of a JWT access token (read, not verified: Redis verifies it)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return str(claims["oid"])
    except (IndexError, ValueError, KeyError) as error:
        raise ValueError(
            "AGENTFLEET_CACHE: the Entra token for Azure Redis has no 'oid' claim; "
            "is the agent's managed identity (AZURE_CLIENT_ID) set?"
        ) from error
