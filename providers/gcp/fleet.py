"""GCP: one `FleetConfig` -> Pub/Sub + Firestore/GCS(/Memorystore) + GKE + KEDA, as children of the fleet.

`build` wires the modules of this package in dependency order; each module's docstring says why
its resources look the way they do:

    placement.py      the project and region: the gcp provider's the component uses
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
    shared.py         what several fleets of one stack share, built once (`build_shared`)

Every builder has the same shape: `build_<thing>(parent, config, placement, *, ...)`: the
component the resources are children of, the whole `FleetConfig`, the `Placement` (project and
region), then keyword-only what it wires: the enabled `apis`, the records earlier builders
returned (`queue`, `state`, `cluster`, `identity`, `workload`), and the `policy` where scaling
numbers are needed. Each derives its names from `config.name` with `names.Names`.

With `shared` (what shared.py built for several fleets of one stack) a fleet takes the APIs,
network, cluster, Kubernetes provider and KEDA from it and builds the rest as its own. Project and
region are those of the `gcp` provider the component uses (placement.py).
"""

from __future__ import annotations

from typing import Any

import pulumi

from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.problems import ConfigError
from agentfleet.components.schema import FleetConfig
from agentfleet.providers.base import FleetInputs, FleetResources
from agentfleet.providers.gcp.apis import Apis, build_apis
from agentfleet.providers.gcp.cluster import (
    Cluster,
    build_agent_pool,
    build_cluster,
    fleet_cluster,
    node_service_account,
)
from agentfleet.providers.gcp.compute import build_workload, kubernetes_provider
from agentfleet.providers.gcp.identity import build_identity, build_keda_identity
from agentfleet.providers.gcp.monitoring import build_alerts
from agentfleet.providers.gcp.names import Names
from agentfleet.providers.gcp.network import Network, build_network, existing_cluster, shared_vpc_problems
from agentfleet.providers.gcp.placement import placement_of
from agentfleet.providers.gcp.queue import build_queue
from agentfleet.providers.gcp.scaling import build_autoscaler, install_keda
from agentfleet.providers.gcp.secrets import build_secrets
from agentfleet.providers.gcp.settings import Placement
from agentfleet.providers.gcp.shared import SharedNetwork, sharing_problems
from agentfleet.providers.gcp.state import build_state


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
        if problems := sharing_problems(config, placement, shared, inputs):
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
