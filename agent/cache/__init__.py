"""`ctx.cache`: a redis-py client for AGENTFLEET_CACHE, authenticated the way its cloud requires.

- AWS ElastiCache and GCP Memorystore, as the providers create them, take TLS from the network
  path and need no password: a plain `rediss://` URL.
- Azure Managed Redis and Azure Cache for Redis are created with access keys disabled, so the
  agent signs in with its managed identity: `agent/cache/entra.py` supplies a Microsoft Entra
  token as the password, renewed before it expires.

redis (the `cache` extra) and azure-identity are imported only when a handler first uses the cache.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

#: Host suffixes of Azure's Redis services, whose data access is Entra-only in our deployments.
AZURE_REDIS_SUFFIXES = (".redis.azure.net", ".redis.cache.windows.net")


def needs_entra(url: str) -> bool:
    """True when the cache at `url` is an Azure Redis service (Entra authentication)."""
    host = (urlparse(url).hostname or "").lower()
    return host.endswith(AZURE_REDIS_SUFFIXES)


def open_cache(url: str, credential: Any = None) -> Any:
    """A `redis.Redis` for `url`; on Azure, with the agent's managed identity as its credentials.

    `credential` is an azure-identity `TokenCredential` (default: `DefaultAzureCredential`, which
    on a scale set picks up the user-assigned identity named by AZURE_CLIENT_ID).
    """
    import redis

    if not needs_entra(url):
        return redis.Redis.from_url(url)
    from agentfleet.agent.cache.entra import EntraRedisCredentials

    return redis.Redis.from_url(url, credential_provider=EntraRedisCredentials(credential))
