"""Agent state: a storage account (TLS 1.2, HTTPS only, no public blobs, no shared keys) holding
the state table and a blob container, and an optional Azure Managed Redis (TLS only, Entra ID).

Storage account names are global; names.py says how this one is made stable and distinct.

The cache is Azure Managed Redis (`Microsoft.Cache/redisEnterprise`), not Azure Cache for Redis
(`Microsoft.Cache/redis`): that service is retiring (Basic/Standard/Premium end 2028-09-30) and
no longer lets new customers create caches, so a first `pulumi up` would be refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import redisenterprise, storage

from agentfleet.components.schema import FleetConfig
from agentfleet.providers.azure.names import FleetNames, Site, account_name

CONTAINER_NAME = "agentfleet"
#: Azure Managed Redis: the smallest SKU; one database, which must be named "default", on the
#: TLS port 10000; EnterpriseCluster so that a plain (non-cluster) Redis client works.
CACHE_SKU = redisenterprise.SkuName.BALANCED_B0
CACHE_DATABASE = "default"
CACHE_PORT = 10_000


@dataclass
class Cache:
    cluster: redisenterprise.RedisEnterprise
    database: redisenterprise.Database


@dataclass
class State:
    account: storage.StorageAccount
    table: storage.Table | None
    container: storage.BlobContainer | None
    cache: Cache | None

    @property
    def table_url(self) -> pulumi.Output[str] | None:
        """`https://ACCOUNT.table.core.windows.net/TABLE` (the contract's AGENTFLEET_STATE)."""
        if self.table is None:
            return None
        return pulumi.Output.all(self.account.primary_endpoints, self.table.name).apply(
            lambda v: v[0]["table"].rstrip("/") + "/" + v[1]
        )

    @property
    def container_url(self) -> pulumi.Output[str] | None:
        """`https://ACCOUNT.blob.core.windows.net/CONTAINER` (the contract's AGENTFLEET_BUCKET)."""
        if self.container is None:
            return None
        return pulumi.Output.all(self.account.primary_endpoints, self.container.name).apply(
            lambda v: v[0]["blob"].rstrip("/") + "/" + v[1]
        )

    @property
    def cache_url(self) -> pulumi.Output[str] | None:
        """`rediss://HOST:10000`: TLS only; the agent authenticates with an Entra ID token."""
        if self.cache is None:
            return None
        return pulumi.Output.all(self.cache.cluster.host_name, self.cache.database.port).apply(
            lambda v: f"rediss://{v[0]}:{v[1] or CACHE_PORT}"
        )


def build_state(parent: pulumi.Resource, config: FleetConfig, site: Site) -> State:
    opts = pulumi.ResourceOptions(parent=parent)
    names = FleetNames(config.name)
    resource_group, location = site.resource_group, site.location
    account = storage.StorageAccount(
        names.storage_account,
        account_name=pulumi.Output.from_input(site.resource_group_id).apply(
            lambda rg: account_name(names.fleet, rg)
        ),
        resource_group_name=resource_group,
        location=location,
        kind="StorageV2",
        sku=storage.SkuArgs(name="Standard_LRS"),
        minimum_tls_version="TLS1_2",
        enable_https_traffic_only=True,
        allow_blob_public_access=False,
        # Only Entra ID (the agents' managed identity) may read or write: no account keys, no SAS.
        allow_shared_key_access=False,
        default_to_o_auth_authentication=True,
        opts=opts,
    )
    table = None
    if config.state.table:
        table = storage.Table(
            names.table_resource,
            table_name=names.table,
            account_name=account.name,
            resource_group_name=resource_group,
            opts=opts,
        )
    container = None
    if config.state.bucket:
        container = storage.BlobContainer(
            names.container_resource,
            container_name=CONTAINER_NAME,
            account_name=account.name,
            resource_group_name=resource_group,
            public_access=storage.PublicAccess.NONE,
            opts=opts,
        )
    cache = None
    if config.state.cache:
        cluster = redisenterprise.RedisEnterprise(
            names.cache,
            resource_group_name=resource_group,
            location=location,
            sku=redisenterprise.SkuArgs(name=CACHE_SKU),
            minimum_tls_version=redisenterprise.TlsVersion.TLS_VERSION_1_2,
            # Reached over its public endpoint: TLS and Entra ID only (no private endpoint yet).
            public_network_access=redisenterprise.PublicNetworkAccess.ENABLED,
            opts=opts,
        )
        database = redisenterprise.Database(
            names.cache_database,
            database_name=CACHE_DATABASE,
            cluster_name=cluster.name,
            resource_group_name=resource_group,
            client_protocol=redisenterprise.Protocol.ENCRYPTED,
            port=CACHE_PORT,
            clustering_policy=redisenterprise.ClusteringPolicy.ENTERPRISE_CLUSTER,
            # Entra ID auth only: the agents' identity gets an access policy assignment (identity.py).
            access_keys_authentication=redisenterprise.AccessKeysAuthentication.DISABLED,
            opts=opts,
        )
        cache = Cache(cluster=cluster, database=database)
    return State(account=account, table=table, container=container, cache=cache)
