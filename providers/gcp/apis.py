"""The Google APIs the fleet needs, enabled in the project (a fresh project has none of them on).

`disable_on_destroy=False`: destroying one fleet must not switch an API off for everything else
in the project.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from agentfleet.components.schema import FleetConfig
from agentfleet.components.secrets import secrets_to_store
from agentfleet.providers.gcp.settings import Placement

APIS = {
    "pubsub": "pubsub.googleapis.com",
    "container": "container.googleapis.com",
    "compute": "compute.googleapis.com",
    "firestore": "firestore.googleapis.com",
    "storage": "storage.googleapis.com",
    "redis": "redis.googleapis.com",
    "monitoring": "monitoring.googleapis.com",
    "iam": "iam.googleapis.com",
    # Workload Identity: the GKE metadata server exchanges a pod's token for its Google service
    # account's through this API; while it is off every pod's Google call fails with 403.
    "iamcredentials": "iamcredentials.googleapis.com",
    "secretmanager": "secretmanager.googleapis.com",
}


#: The enabled services by key of `APIS`; the other builders wait on the ones they call.
Apis = dict[str, pulumi.Resource]


#: Enabled only for a fleet that uses them; the network several fleets share enables the others.
OPTIONAL = ("redis", "secretmanager")


def _enable(parent: pulumi.Resource, owner: str, placement: Placement, key: str) -> gcp.projects.Service:
    return gcp.projects.Service(
        f"{owner}-api-{key}",
        project=placement.project,
        service=APIS[key],
        disable_on_destroy=False,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def build_apis(
    parent: pulumi.Resource, config: FleetConfig, placement: Placement, *, enabled: Apis | None = None
) -> Apis:
    """Every API in `APIS` (Memorystore's only for a fleet with a cache, Secret Manager's only for
    one that stores a secret's value), on in `placement.project`, named for `config.name`; those
    already `enabled` (by the network the fleet shares) are taken as they are."""
    services: Apis = dict(enabled or {})
    for key in APIS:
        if key in services:
            continue
        if key == "redis" and not config.state.cache:
            continue
        if key == "secretmanager" and not secrets_to_store(config):
            continue
        services[key] = _enable(parent, config.name, placement, key)
    return services


def build_shared_apis(parent: pulumi.Resource, config: FleetConfig, placement: Placement) -> Apis:
    """The APIs every fleet needs, once for the fleets that share a network (named for it)."""
    return {key: _enable(parent, config.name, placement, key) for key in APIS if key not in OPTIONAL}
