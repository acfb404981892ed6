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


def build_apis(parent: pulumi.Resource, config: FleetConfig, placement: Placement) -> Apis:
    """Every API in `APIS` (Memorystore's only for a fleet with a cache, Secret Manager's only for
    one that stores a secret's value), on in `placement.project`."""
    opts = pulumi.ResourceOptions(parent=parent)
    services: Apis = {}
    for key, service in APIS.items():
        if key == "redis" and not config.state.cache:
            continue
        if key == "secretmanager" and not secrets_to_store(config):
            continue
        services[key] = gcp.projects.Service(
            f"{config.name}-api-{key}",
            project=placement.project,
            service=service,
            disable_on_destroy=False,
            opts=opts,
        )
    return services
