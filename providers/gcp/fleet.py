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
"""

from __future__ import annotations

from typing import Any

import pulumi

from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.problems import ConfigError
from agentfleet.components.schema import FleetConfig
from agentfleet.providers.base import FleetInputs, FleetResources
from agentfleet.providers.gcp.apis import build_apis
from agentfleet.providers.gcp.cluster import build_cluster
from agentfleet.providers.gcp.compute import build_workload
from agentfleet.providers.gcp.identity import build_identity
from agentfleet.providers.gcp.monitoring import build_alerts
from agentfleet.providers.gcp.names import Names
from agentfleet.providers.gcp.network import build_network, shared_vpc_problems
from agentfleet.providers.gcp.queue import build_queue
from agentfleet.providers.gcp.scaling import build_autoscaler
from agentfleet.providers.gcp.secrets import build_secrets
from agentfleet.providers.gcp.settings import Placement
from agentfleet.providers.gcp.state import build_state


def placement_setting() -> Placement:
    """`gcp:project` and `gcp:region`: every resource of the fleet lives there. Their presence is
    checked with the fleet config, before anything is registered (`REQUIRED_SETTINGS` in settings.py)."""
    gcp = pulumi.Config("gcp")
    return Placement(project=gcp.require("project"), region=gcp.require("region"))


def build_shared(parent: pulumi.ComponentResource, config: FleetConfig, inputs: FleetInputs) -> Any:
    raise NotImplementedError("several fleets sharing one network are not built on Google Cloud yet")


def build(
    parent: pulumi.ComponentResource,
    config: FleetConfig,
    policy: ScalingPolicy,
    *,
    shared: Any | None,
    inputs: FleetInputs,
) -> FleetResources:
    if shared is not None or inputs != FleetInputs():
        raise NotImplementedError(
            "a shared network and pulumi.Input values are not taken on Google Cloud yet"
        )
    placement = placement_setting()
    names = Names(config.name)
    # Before any resource: what a Shared VPC network needs can only be checked against gcp:project.
    if problems := shared_vpc_problems(config, placement):
        raise ConfigError(problems)

    apis = build_apis(parent, config, placement)
    work_queue = build_queue(parent, config, placement, apis=apis)
    network = build_network(parent, config, placement, apis=apis)
    stores = build_state(parent, config, placement, apis=apis, network=network)
    gke = build_cluster(parent, config, placement, apis=apis, network=network)
    accounts = build_identity(
        parent, config, placement, apis=apis, queue=work_queue, state=stores, cluster=gke
    )
    secrets = build_secrets(parent, config, placement, apis=apis, reader=accounts.agent.member)
    agents = build_workload(
        parent,
        config,
        placement,
        policy=policy,
        queue=work_queue,
        state=stores,
        cluster=gke,
        identity=accounts,
        secrets=secrets,
    )
    build_autoscaler(
        parent,
        config,
        placement,
        policy=policy,
        queue=work_queue,
        workload=agents,
        keda_account_email=accounts.keda.email,
        keda_ready=[*gke.ready, accounts.keda_binding, *accounts.grants],
    )
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
