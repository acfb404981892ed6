"""Where agents keep state on GCP: Firestore, a Cloud Storage bucket and, optionally, Memorystore.

Firestore: the fleet uses a collection (named after the fleet) in the project's existing
`(default)` database. The runtime contract (`AGENTFLEET_STATE`) names a collection, and a Firestore
client opens the `(default)` database unless told otherwise, so a second named database would be
unreachable through the contract. The Firestore API is enabled by the program; creating the
`(default)` database itself is a one-time project setup step (docs/gcp.md), because it can only
exist once per project and deleting it with a stack would destroy every other user's data.

The bucket has uniform bucket-level access (IAM only, no object ACLs) and enforced public access
prevention. `pulumi destroy` fails on a bucket that still holds objects unless
`gcp.force_destroy_bucket` is on, which deletes the objects with it. The agent's access to both
is granted in identity.py, on these resources only.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from agentfleet.components.schema import FleetConfig
from agentfleet.providers.gcp.apis import Apis
from agentfleet.providers.gcp.names import Names
from agentfleet.providers.gcp.network import Network
from agentfleet.providers.gcp.settings import GcpSettings, Placement

FIRESTORE_DATABASE = "(default)"
#: Memorystore size for the optional cache: the smallest BASIC tier instance.
CACHE_MEMORY_GB = 1


@dataclass
class State:
    collection: str | None
    database: str | None
    bucket: gcp.storage.Bucket | None
    cache: gcp.redis.Instance | None

    def cache_url(self) -> pulumi.Output[str] | None:
        if self.cache is None:
            return None
        return pulumi.Output.concat("redis://", self.cache.host, ":", self.cache.port.apply(str))


def build_state(
    parent: pulumi.Resource, config: FleetConfig, placement: Placement, *, apis: Apis, network: Network
) -> State:
    """The bucket and cache the config asks for; `network` is where Memorystore is reachable from."""
    s = config.state
    names = Names(config.name)
    opts = pulumi.ResourceOptions(parent=parent)
    labels = {"agentfleet-fleet": config.name}
    bucket = None
    if s.bucket:
        bucket = gcp.storage.Bucket(
            f"{config.name}-objects",
            project=placement.project,
            location=placement.region.upper(),
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            # Off unless asked: "Otherwise, buckets with objects/caches will fail" to delete, so
            # `pulumi destroy` never deletes agents' objects by surprise (docs/gcp.md).
            force_destroy=config.settings_for(GcpSettings).force_destroy_bucket,
            labels=labels,
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[apis["storage"]])),
        )
    cache = None
    if s.cache:
        cache = gcp.redis.Instance(
            f"{config.name}-cache",
            name=f"{config.name}-cache",
            project=placement.project,
            region=placement.region,
            tier="BASIC",
            memory_size_gb=CACHE_MEMORY_GB,
            authorized_network=network.id,
            labels=labels,
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[apis["redis"]])),
        )
    return State(
        collection=names.collection if s.table else None,
        database=f"projects/{placement.project}/databases/{FIRESTORE_DATABASE}" if s.table else None,
        bucket=bucket,
        cache=cache,
    )
