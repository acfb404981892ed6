"""What several fleets of one stack share on Google Cloud, built once under their `FleetNetwork`.

Shared: the APIs every fleet needs, the Cloud Router and NAT, the GKE cluster with its system pool
and KEDA firewall rule (or the user's existing cluster), the Kubernetes provider, and KEDA with its
Google account (one KEDA per cluster: its metrics server owns the cluster's external-metrics API).
They are built by the same builders as a fleet's own, from the first fleet's config renamed after
the `FleetNetwork`, so their names derive from the network's name.

Each fleet keeps what would let it act on another's work (fleet.py): queue and dead letters,
state, the agents' account and grants, its own agent node pool whose nodes run as its own account
(its machine type, Spot, size and image pull grant; tainted so only its agents run there),
namespace, Deployment, ScaledObject, secrets and alerts.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from agentfleet.components.problems import ConfigError, ConfigProblem
from agentfleet.components.schema import NAME_PATTERN, FleetConfig
from agentfleet.providers.base import FleetInputs
from agentfleet.providers.gcp.apis import Apis, build_shared_apis
from agentfleet.providers.gcp.cluster import ControlPlane, build_control_plane
from agentfleet.providers.gcp.compute import kubernetes_provider
from agentfleet.providers.gcp.identity import KedaIdentity, build_keda_identity
from agentfleet.providers.gcp.network import Network, build_network, existing_cluster, shared_vpc_problems
from agentfleet.providers.gcp.placement import placement_of
from agentfleet.providers.gcp.scaling import install_keda
from agentfleet.providers.gcp.settings import GcpSettings, Placement

#: The `fleet.gcp` keys the shared network and cluster are built from (the first fleet's): another
#: fleet sharing them leaves each unset or gives the same value.
NETWORK_KEYS = (
    "cluster",
    "network",
    "subnetwork",
    "pods_range",
    "services_range",
    "control_plane_cidrs",
    "kubernetes_credentials",
)


@dataclass
class SharedNetwork:
    """What `build_shared` made, which each fleet's `build` takes back as `shared=`."""

    #: The first fleet's config, named after the FleetNetwork: what the shared resources were built from.
    config: FleetConfig
    placement: Placement
    apis: Apis
    network: Network
    control_plane: ControlPlane
    kubernetes: k8s.Provider
    keda: k8s.helm.v3.Release
    keda_identity: KedaIdentity


def network_config(parent: pulumi.Resource, config: FleetConfig) -> FleetConfig:
    """`config` named after the FleetNetwork `parent`: the shared resources' names derive from it."""
    name = parent.pulumi_resource_name
    if not NAME_PATTERN.match(name) or not name[-1].isalnum():
        raise ConfigError(
            [
                ConfigProblem(
                    "FleetNetwork name",
                    name,
                    "must be 3-24 chars on GCP: a lowercase letter first, then lowercase letters, digits "
                    "or '-', ending in a letter or digit (it names the shared cluster, router and accounts)",
                )
            ]
        )
    return config.model_copy(update={"name": name})


def build_shared(parent: pulumi.ComponentResource, config: FleetConfig, inputs: FleetInputs) -> SharedNetwork:
    """The APIs, router and NAT, cluster and system pool, and KEDA the fleets of a stack share,
    as children of the FleetNetwork `parent`, from `config`'s network settings and `inputs`."""
    if inputs.image is not None:
        raise ConfigError(
            [
                ConfigProblem(
                    "inputs.image", "<Output>", "must be given to each fleet, not to the FleetNetwork"
                )
            ]
        )
    shared = network_config(parent, config)
    placement = placement_of(parent)
    if problems := shared_vpc_problems(shared, placement, inputs):
        raise ConfigError(problems)
    apis = build_shared_apis(parent, shared, placement)
    network = build_network(parent, shared, placement, apis=apis, inputs=inputs)
    control_plane = build_control_plane(
        parent, shared, placement, apis=apis, network=network, existing=existing_cluster(shared, inputs)
    )
    provider = kubernetes_provider(parent, shared, control_plane.kubeconfig)
    keda_identity = build_keda_identity(parent, shared, placement, apis=apis, created=control_plane.created)
    keda = install_keda(
        parent,
        shared,
        provider=provider,
        keda_account_email=keda_identity.account.email,
        keda_ready=[*control_plane.ready, keda_identity.binding, keda_identity.grant],
    )
    return SharedNetwork(
        config=shared,
        placement=placement,
        apis=apis,
        network=network,
        control_plane=control_plane,
        kubernetes=provider,
        keda=keda,
        keda_identity=keda_identity,
    )


def sharing_problems(
    config: FleetConfig, placement: Placement, shared: SharedNetwork, inputs: FleetInputs
) -> list[ConfigProblem]:
    """A fleet on a shared network must not ask for a network or cluster of its own."""
    problems: list[ConfigProblem] = []
    if config.name == shared.config.name:
        problems.append(
            ConfigProblem(
                "fleet.name",
                config.name,
                "must not be the name of the FleetNetwork it shares (both would name a `NAME-nodes` account)",
            )
        )
    if placement != shared.placement:
        problems.append(
            ConfigProblem(
                "gcp:project/gcp:region",
                f"{placement.project}/{placement.region}",
                f"must be the shared network's ({shared.placement.project}/{shared.placement.region}): "
                "fleets of one FleetNetwork use the same gcp provider",
            )
        )
    mine, theirs, default = (
        config.settings_for(GcpSettings),
        shared.config.settings_for(GcpSettings),
        GcpSettings(),
    )
    for key in NETWORK_KEYS:
        value = getattr(mine, key)
        shared_value = getattr(theirs, key)
        if value != getattr(default, key) and value != shared_value:
            allowed = "unset" if shared_value == getattr(default, key) else f"unset or {shared_value}"
            problems.append(
                ConfigProblem(
                    f"fleet.gcp.{key}",
                    value,
                    f"must be {allowed}: the fleets of a stack share one network and cluster, built "
                    "from the first fleet's gcp settings",
                )
            )
    for key in ("network_id", "subnet_ids", "cluster_id"):
        if getattr(inputs, key) is not None:
            problems.append(
                ConfigProblem(
                    f"inputs.{key}", "<Output>", "must be given to the FleetNetwork the fleet shares"
                )
            )
    return problems
