"""GCP: one `FleetConfig` -> Pub/Sub + Firestore/GCS(/Memorystore) + GKE + KEDA, as children of the fleet.

`build` wires the modules of this package in dependency order; each module's docstring says why
its resources look the way they do:

    apis.py           the Google APIs the fleet calls, enabled in the project
    queue.py          topic, subscription, dead-letter topic and the service agent's grants
    network.py        the user's VPC; Cloud Router + NAT for a new cluster's private nodes
    state.py          Firestore collection, bucket, optional Memorystore
    cluster.py        a new GKE cluster (or the user's) and the agents' node pool
    identity.py       the agents' and KEDA's Google accounts, joined by Workload Identity
    secrets.py        agent.secrets: values in Secret Manager, read grants for the agents' account
    compute.py        namespace, service account, Deployment, disruption budget
    scaling.py        KEDA and the ScaledObject on the subscription's backlog
    monitoring.py     alert policies: oldest message, dead letters

Every builder has the same shape: `build_<thing>(parent, config, placement, *, ...)`: the
component the resources are children of, the whole `FleetConfig`, the `Placement` (project and
region), then keyword-only what it wires: the enabled `apis`, the records earlier builders
returned (`queue`, `state`, `cluster`, `identity`, `workload`), and the `policy` where scaling
numbers are needed. Each derives its names from `config.name` with `names.Names`.

Several fleets in one stack (`build_shared`, docs/gcp.md "Several fleets") share what belongs to
the cluster: the enabled APIs, the Cloud Router and NAT, the GKE cluster with its system pool and
KEDA firewall rule, the Kubernetes provider, and KEDA with its Google account. Those are built by
the same builders from the first fleet's config renamed after the `FleetNetwork`, so their names
derive from the network's name. Each fleet keeps its own queue, dead letters, state, agents' and
nodes' accounts, agent node pool (its machine type, Spot, size; tainted for its agents only),
namespace, Deployment, ScaledObject, secrets and alerts: nothing of one fleet's is another's to
read, scale or schedule onto.

Project and region are the `gcp` provider's that the component uses: an explicit one passed to it
(`opts=ResourceOptions(providers=...)`) or the default one, which reads gcp:project and gcp:region.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.problems import MISSING, ConfigError, ConfigProblem
from agentfleet.components.schema import NAME_PATTERN, FleetConfig
from agentfleet.providers.base import FleetInputs, FleetResources
from agentfleet.providers.gcp.apis import Apis, build_apis, build_shared_apis
from agentfleet.providers.gcp.cluster import (
    Cluster,
    ControlPlane,
    build_agent_pool,
    build_cluster,
    build_control_plane,
    fleet_cluster,
    node_service_account,
)
from agentfleet.providers.gcp.compute import build_workload, kubernetes_provider
from agentfleet.providers.gcp.identity import KedaIdentity, build_identity, build_keda_identity
from agentfleet.providers.gcp.monitoring import build_alerts
from agentfleet.providers.gcp.names import Names
from agentfleet.providers.gcp.network import Network, build_network, existing_cluster, shared_vpc_problems
from agentfleet.providers.gcp.queue import build_queue
from agentfleet.providers.gcp.scaling import build_autoscaler, install_keda
from agentfleet.providers.gcp.secrets import build_secrets
from agentfleet.providers.gcp.settings import GcpSettings, Placement
from agentfleet.providers.gcp.state import build_state

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


def placement_of(parent: pulumi.Resource) -> Placement:
    """The project and region of the `gcp` provider `parent`'s resources use: one passed to the
    component, else the default provider's (gcp:project, gcp:region). The invoke runs with `parent`
    so it asks the same provider the resources are created with."""
    client = gcp.organizations.get_client_config(opts=pulumi.InvokeOptions(parent=parent))
    problems = [
        ConfigProblem(key, MISSING, f"must be set on the gcp provider the fleet uses ({allowed})")
        for key, value, allowed in (
            ("gcp:project", client.project, "a Google Cloud project id"),
            ("gcp:region", client.region, "a region such as europe-west1"),
        )
        if not value
    ]
    if problems:
        raise ConfigError(problems)
    return Placement(project=client.project, region=client.region)


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


def _sharing_problems(
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


def build(
    parent: pulumi.ComponentResource,
    config: FleetConfig,
    policy: ScalingPolicy,
    *,
    shared: Any | None,
    inputs: FleetInputs,
) -> FleetResources:
    placement = placement_of(parent)
    names = Names(config.name)
    image = inputs.image if inputs.image is not None else config.agent.image
    if shared is None:
        # Before any resource: what a Shared VPC network needs can only be checked against the project.
        if problems := shared_vpc_problems(config, placement, inputs):
            raise ConfigError(problems)
        apis = build_apis(parent, config, placement)
    else:
        assert isinstance(shared, SharedNetwork), "shared= must be what providers/gcp build_shared returned"
        if problems := _sharing_problems(config, placement, shared, inputs):
            raise ConfigError(problems)
        apis = build_apis(parent, config, placement, enabled=shared.apis)

    work_queue = build_queue(parent, config, placement, apis=apis)
    network = shared.network if shared else build_network(parent, config, placement, apis=apis, inputs=inputs)
    stores = build_state(parent, config, placement, apis=apis, network=network)
    gke = _fleet_cluster(
        parent, config, placement, shared, apis=apis, network=network, image=image, inputs=inputs
    )
    accounts = build_identity(
        parent, config, placement, apis=apis, queue=work_queue, state=stores, cluster=gke
    )
    if shared is None:
        keda_identity = build_keda_identity(parent, config, placement, apis=apis, created=gke.created)
        provider = kubernetes_provider(parent, config, gke.kubeconfig)
    else:
        keda_identity, provider = shared.keda_identity, shared.kubernetes
    secrets = build_secrets(parent, config, placement, apis=apis, reader=accounts.agent.member)
    agents = build_workload(
        parent,
        config,
        placement,
        provider=provider,
        image=image,
        policy=policy,
        queue=work_queue,
        state=stores,
        cluster=gke,
        identity=accounts,
        secrets=secrets,
    )
    keda = (
        shared.keda
        if shared
        else install_keda(
            parent,
            config,
            provider=provider,
            keda_account_email=keda_identity.account.email,
            keda_ready=[*gke.ready, keda_identity.binding, keda_identity.grant],
        )
    )
    build_autoscaler(parent, config, placement, policy=policy, queue=work_queue, workload=agents, keda=keda)
    build_alerts(parent, config, placement, apis=apis)

    return FleetResources(
        queue=work_queue.subscription.id,
        dead_letter_queue=work_queue.dead_letter_topic.id,
        state_table=stores.collection,
        bucket=stores.bucket.name if stores.bucket is not None else None,
        agent_group=f"{names.namespace}/{names.deployment}",
        send_work={
            "topic": work_queue.topic.id,
            "subscription": work_queue.subscription.id,
            "cluster": gke.name,
            # Where the dead letters are kept: `agentfleet dlq` pulls from it.
            "dead_letter_subscription": work_queue.dead_letter_subscription.id,
        },
    )


def _fleet_cluster(
    parent: pulumi.Resource,
    config: FleetConfig,
    placement: Placement,
    shared: SharedNetwork | None,
    *,
    apis: Apis,
    network: Network,
    image: pulumi.Input[str],
    inputs: FleetInputs,
) -> Cluster:
    """The fleet's own cluster, or its agent pool (nodes running as its own account) on the shared one."""
    if shared is None:
        existing = existing_cluster(config, inputs)
        return build_cluster(
            parent, config, placement, apis=apis, network=network, image=image, existing=existing
        )
    nodes = node_service_account(
        Names(config.name), placement, pulumi.ResourceOptions(parent=parent), apis["iam"]
    )
    pool = build_agent_pool(
        parent, config, placement, control_plane=shared.control_plane, nodes=nodes, image=image
    )
    return fleet_cluster(shared.control_plane, pool)
