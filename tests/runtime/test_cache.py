"""ctx.cache: plain Redis URLs stay plain; Azure's Redis gets Entra credentials, renewed in time."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import pytest

from agentfleet.agent.cache import needs_entra, open_cache
from agentfleet.agent.cache.entra import RENEW_BEFORE_SECONDS, SCOPE, EntraRedisCredentials, object_id


def _jwt(claims: dict[str, str]) -> str:
    def part(data: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256'})}.{part(claims)}.signature"


@dataclass
class _AccessToken:  # azure.core.credentials.AccessToken's documented fields
    token: str
    expires_on: int


class _FakeCredential:
    """A TokenCredential: get_token(*scopes) -> AccessToken, as azure-identity documents."""

    def __init__(self, lifetime: int = 3600) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.now = 1_000_000.0
        self.lifetime = lifetime

    def get_token(self, *scopes: str) -> _AccessToken:
        self.calls.append(scopes)
        token = _jwt({"oid": "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0", "n": str(len(self.calls))})
        return _AccessToken(token, int(self.now + self.lifetime))


@pytest.mark.parametrize(
    ("url", "entra"),
    [
        ("rediss://moodring.westeurope.redis.azure.net:10000", True),
        ("rediss://moodring.redis.cache.windows.net:6380", True),
        ("rediss://master.moodring.abc123.use1.cache.amazonaws.com:6379", False),
        ("redis://10.0.0.3:6379", False),
    ],
)
def test_only_azure_redis_hosts_use_entra(url: str, entra: bool) -> None:
    assert needs_entra(url) is entra


def test_credentials_are_the_tokens_object_id_and_the_token_for_the_redis_scope() -> None:
    credential = _FakeCredential()
    user, password = EntraRedisCredentials(credential, clock=lambda: credential.now).get_credentials()
    assert credential.calls == [(SCOPE,)]
    assert user == "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
    assert object_id(password) == user


def test_token_is_reused_until_shortly_before_it_expires_then_renewed() -> None:
    credential = _FakeCredential(lifetime=3600)
    provider = EntraRedisCredentials(credential, clock=lambda: credential.now)
    first = provider.get_credentials()
    credential.now += 3600 - RENEW_BEFORE_SECONDS - 1
    assert provider.get_credentials() == first and len(credential.calls) == 1
    credential.now += 2
    assert provider.get_credentials() != first and len(credential.calls) == 2


def test_a_token_without_an_object_id_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="AGENTFLEET_CACHE.*oid"):
        object_id(_jwt({"sub": "x"}))


def test_the_azure_client_carries_the_entra_provider_and_a_plain_url_does_not() -> None:
    credential = _FakeCredential()
    azure = open_cache("rediss://moodring.westeurope.redis.azure.net:10000", credential)
    provider = azure.connection_pool.connection_kwargs["credential_provider"]
    assert isinstance(provider, EntraRedisCredentials) and provider.credential is credential
    plain = open_cache("redis://127.0.0.1:6379")
    assert "credential_provider" not in plain.connection_pool.connection_kwargs
