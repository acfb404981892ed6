"""The VPC network the fleet's cluster and cache live on, and egress for a new cluster's nodes.

The network is the user's (`gcp.network`, default `default`): this program never creates a VPC.
On a custom-mode network a new cluster needs `gcp.subnetwork` (GKE: "Network ... requires
specifying a subnetwork"), and may name the subnetwork's secondary ranges for pods and services
(`gcp.pods_range`, `gcp.services_range`); without them GKE creates the ranges in the subnetwork.

A new cluster has private nodes, so a Cloud Router and Cloud NAT in `gcp:region` give them egress
to pull the agent image and KEDA. An existing cluster (`gcp.cluster`) brings its own egress.

A Shared VPC network lives in a host project (`projects/HOST/global/networks/NAME` with HOST other
than `gcp:project`). Routers, NAT gateways and firewall rules of that network belong to the host
project and its administrators: this program creates none of them there, and asks for what GKE
needs from a service project instead: the subnetwork's full path and the names of its secondary
ranges for pods and services, which the host project's administrators create (a service project
cannot add ranges to a host project's subnetwork). docs/gcp.md lists what the host project must
provide, and how to check it on first deploy.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from agentfleet.components.problems import ConfigProblem
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
    #: The subnetwork a new cluster's nodes use (None: the network's subnetwork in the region).
    subnetwork: str | None
    #: The network belongs to another project (Shared VPC): nothing is created on it here.
    shared: bool


def network_id(project: str, network: str) -> str:
    """A network's full path; a bare name means a network of `project`."""
    return network if network.startswith("projects/") else f"projects/{project}/global/networks/{network}"


def host_project(project: str, network: str) -> str:
    """The project a network belongs to: the one its path names, else `project`."""
    return network.split("/")[1] if network.startswith("projects/") else project


def describe_network(config: FleetConfig, placement: Placement) -> Network:
    settings = config.settings_for(GcpSettings)
    name = settings.network or "default"
    return Network(
        name=name,
        id=network_id(placement.project, name),
        subnetwork=settings.subnetwork,
        shared=host_project(placement.project, name) != placement.project,
    )


def shared_vpc_problems(config: FleetConfig, placement: Placement) -> list[ConfigProblem]:
    """What a new cluster on a Shared VPC network needs that this program cannot create for it."""
    settings = config.settings_for(GcpSettings)
    network = describe_network(config, placement)
    if settings.cluster is not None or not network.shared:
        return []
    host = host_project(placement.project, network.name)
    problems: list[ConfigProblem] = []
    if settings.subnetwork is None or not settings.subnetwork.startswith(f"projects/{host}/"):
        problems.append(
            ConfigProblem(
                "fleet.gcp.subnetwork",
                settings.subnetwork,
                f"must be the full path of a subnetwork of the Shared VPC host project {host} "
                f"(projects/{host}/regions/{placement.region}/subnetworks/NAME)",
            )
        )
    if settings.pods_range is None:
        problems.append(
            ConfigProblem(
                "fleet.gcp.pods_range",
                None,
                "must name the Shared VPC subnetwork's secondary range for pods "
                "(a service project cannot create ranges in the host project)",
            )
        )
    if settings.services_range is None:
        problems.append(
            ConfigProblem(
                "fleet.gcp.services_range",
                None,
                "must name the Shared VPC subnetwork's secondary range for services "
                "(a service project cannot create ranges in the host project)",
            )
        )
    return problems


def build_network(
    parent: pulumi.Resource, config: FleetConfig, placement: Placement, *, apis: Apis
) -> Network:
    network = describe_network(config, placement)
    if config.settings_for(GcpSettings).cluster is not None or network.shared:
        return network
    names = Names(config.name)
    # Compute Engine resources: the Compute API first on a fresh project.
    opts = pulumi.ResourceOptions(parent=parent, depends_on=[apis["container"], apis["compute"]])
    router = gcp.compute.Router(
        names.router,
        name=names.router,
        project=placement.project,
        region=placement.region,
        network=network.name,
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
