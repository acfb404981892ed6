"""The VPC network the fleet's cluster and cache live on, and egress for a new cluster's nodes.

The network is the user's (`gcp.network`, default `default`): this program never creates a VPC.
A new cluster has private nodes, so a Cloud Router and Cloud NAT in `gcp:region` give them egress
to pull the agent image and KEDA. An existing cluster (`gcp.cluster`) brings its own egress, and
gets neither.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from agentfleet.components.schema import FleetConfig
from agentfleet.providers.gcp.apis import Apis
from agentfleet.providers.gcp.names import Names
from agentfleet.providers.gcp.settings import GcpSettings, Placement


@dataclass
class Network:
    #: The network as the config names it: a bare name (this project's) or its full path.
    name: str
    #: Its full path `projects/P/global/networks/N`, which Memorystore wants.
    id: str


def network_id(project: str, network: str) -> str:
    """A network's full path; a bare name means a network of `project`."""
    return network if network.startswith("projects/") else f"projects/{project}/global/networks/{network}"


def build_network(
    parent: pulumi.Resource, config: FleetConfig, placement: Placement, *, apis: Apis
) -> Network:
    settings = config.settings_for(GcpSettings)
    names = Names(config.name)
    name = settings.network or "default"
    network = Network(name=name, id=network_id(placement.project, name))
    if settings.cluster is not None:
        return network
    # Compute Engine resources: the Compute API first on a fresh project.
    opts = pulumi.ResourceOptions(parent=parent, depends_on=[apis["container"], apis["compute"]])
    router = gcp.compute.Router(
        names.router,
        name=names.router,
        project=placement.project,
        region=placement.region,
        network=name,
        opts=opts,
    )
    gcp.compute.RouterNat(
        names.nat,
        name=names.nat,
        project=placement.project,
        region=placement.region,
        router=router.name,
        nat_ip_allocate_option="AUTO_ONLY",
        source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
        opts=opts,
    )
    return network
