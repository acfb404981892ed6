"""The Google APIs the fleet needs, enabled in the project (a fresh project has none of them on).

`disable_on_destroy=False`: destroying one fleet must not switch an API off for everything else
in the project.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from agentfleet.providers.gcp.names import Names, Placement

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
}


def enable_apis(
    names: Names, where: Placement, opts: pulumi.ResourceOptions, *, cache: bool
) -> dict[str, pulumi.Resource]:
    enabled: dict[str, pulumi.Resource] = {}
    for key, service in APIS.items():
        if key == "redis" and not cache:
            continue
        enabled[key] = gcp.projects.Service(
            f"{names.fleet}-api-{key}",
            project=where.project,
            service=service,
            disable_on_destroy=False,
            opts=opts,
        )
    return enabled
