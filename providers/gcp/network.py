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

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from agentfleet.components.problems import ConfigError, ConfigProblem
from agentfleet.components.schema import FleetConfig
from agentfleet.providers.base import FleetInputs
from agentfleet.providers.gcp.apis import Apis
from agentfleet.providers.gcp.names import Names
from agentfleet.providers.gcp.settings import GcpSettings, Placement


@dataclass
class Network:
    #: The network as the config (or `FleetInputs.network_id`) names it: a bare name (this
    #: project's) or its full path.
    name: pulumi.Input[str]
    #: Its full path `projects/P/global/networks/N`, which Memorystore wants.
    id: pulumi.Input[str]
    #: The subnetwork a new cluster's nodes use (None: the network's subnetwork in the region).
    subnetwork: pulumi.Input[str] | None
    #: The network belongs to another project (Shared VPC): nothing is created on it here.
    shared: bool


def existing_cluster(config: FleetConfig, inputs: FleetInputs) -> pulumi.Input[str] | None:
    """The user's cluster the fleet runs in (`FleetInputs.cluster_id`, else `gcp.cluster`), or None."""
    if inputs.cluster_id is not None:
        return inputs.cluster_id
    return config.settings_for(GcpSettings).cluster


def in_project(network: str, placement: Placement) -> str:
    """A network given as an Output, checked once known: it must be `placement.project`'s, since
    the program creates the router and NAT on it (a Shared VPC network is given in the config)."""
    if host_project(placement.project, network) != placement.project:
        raise ValueError(
            f"network {network} belongs to project {host_project(placement.project, network)}: a "
            "Shared VPC network is given as fleet.gcp.network, not as FleetInputs.network_id"
        )
    return network


def one_subnetwork(subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]) -> pulumi.Input[str]:
    """GKE's nodes use one subnetwork: `FleetInputs.subnet_ids` is `[subnetwork]`."""
    if isinstance(subnet_ids, list | tuple):
        if len(subnet_ids) != 1:
            raise ConfigError(
                [
                    ConfigProblem(
                        "inputs.subnet_ids", len(subnet_ids), "must hold exactly one subnetwork on GCP"
                    )
                ]
            )
        return subnet_ids[0]

    def only(ids: Sequence[pulumi.Input[str]]) -> pulumi.Input[str]:
        if len(ids) != 1:
            raise ValueError(f"inputs.subnet_ids must hold exactly one subnetwork on GCP, not {len(ids)}")
        return ids[0]

    return pulumi.Output.from_input(subnet_ids).apply(only)


def network_id(project: str, network: str) -> str:
    """A network's full path; a bare name means a network of `project`."""
    return network if network.startswith("projects/") else f"projects/{project}/global/networks/{network}"


def host_project(project: str, network: str) -> str:
    """The project a network belongs to: the one its path names, else `project`."""
    return network.split("/")[1] if network.startswith("projects/") else project


def describe_network(config: FleetConfig, placement: Placement, inputs: FleetInputs) -> Network:
    """The network and subnetwork from `inputs` (Outputs of the user's resources) or the config."""
    settings = config.settings_for(GcpSettings)
    subnetwork = settings.subnetwork if inputs.subnet_ids is None else one_subnetwork(inputs.subnet_ids)
    if inputs.network_id is not None:
        name = pulumi.Output.from_input(inputs.network_id).apply(lambda n: in_project(n, placement))
        return Network(
            name=name,
            id=name.apply(lambda n: network_id(placement.project, n)),
            subnetwork=subnetwork,
            shared=False,
        )
    named = settings.network or "default"
    return Network(
        name=named,
        id=network_id(placement.project, named),
        subnetwork=subnetwork,
        shared=host_project(placement.project, named) != placement.project,
    )


def shared_vpc_problems(
    config: FleetConfig, placement: Placement, inputs: FleetInputs
) -> list[ConfigProblem]:
    """What a new cluster on a Shared VPC network needs that this program cannot create for it."""
    settings = config.settings_for(GcpSettings)
    host = host_project(placement.project, settings.network or "default")
    # A network from another resource is this project's (in_project checks it at deploy).
    if (
        existing_cluster(config, inputs) is not None
        or inputs.network_id is not None
        or host == placement.project
    ):
        return []
    problems: list[ConfigProblem] = []
    # A subnetwork from another resource is checked by GKE itself at deploy.
    if inputs.subnet_ids is None and (
        settings.subnetwork is None or not settings.subnetwork.startswith(f"projects/{host}/")
    ):
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
    parent: pulumi.Resource, config: FleetConfig, placement: Placement, *, apis: Apis, inputs: FleetInputs
) -> Network:
    """The network; a Cloud Router and NAT on it, named for `config.name`, for a new cluster."""
    network = describe_network(config, placement, inputs)
    if existing_cluster(config, inputs) is not None or network.shared:
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
