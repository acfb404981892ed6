"""GCP: one `FleetConfig` -> Pub/Sub + Firestore/GCS(/Memorystore) + GKE + KEDA, as children of the fleet.

The order follows the dependencies: APIs, the queue, state, the cluster and its agent pool,
identities (their Workload Identity bindings need the cluster's workload pool), then the Kubernetes
objects through a provider bound to that cluster, then the autoscaler and the alerts. Each module
has one job; this one wires them and returns the `FleetResources` the component exports
(docs/DESIGN.md, "Stack outputs").
"""

from __future__ import annotations

import pulumi

from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.schema import FleetConfig
from agentfleet.providers.base import FleetResources
from agentfleet.providers.gcp import apis, cluster, compute, identity, monitoring, queue, scaling, state
from agentfleet.providers.gcp.names import names as fleet_names
from agentfleet.providers.gcp.names import placement


def network_id(project: str, network: str) -> str:
    """Memorystore wants the network's full name; a bare name means a network of this project."""
    return network if network.startswith("projects/") else f"projects/{project}/global/networks/{network}"


def build(parent: pulumi.ComponentResource, config: FleetConfig, policy: ScalingPolicy) -> FleetResources:
    where = placement()
    names = fleet_names(config)
    opts = pulumi.ResourceOptions(parent=parent)

    enabled = apis.enable_apis(names, where, opts, cache=config.state.cache)
    work_queue = queue.create_queue(config, names, where, opts, enabled["pubsub"])
    kept = state.create_state(
        config, names, where, network_id(where.project, cluster.network_name(config)), opts, enabled
    )
    gke = cluster.create_cluster(
        config,
        names,
        where,
        opts,
        enabled["container"],
        iam_api=enabled["iam"],
        compute_api=enabled["compute"],
    )
    # The Workload Identity pool exists once the new cluster does (an existing one already has it),
    # and pods exchange tokens through the IAM Credentials API.
    who = identity.create_identity(
        names,
        where,
        work_queue,
        kept,
        opts,
        enabled["iam"],
        workload_identity_after=[
            *([gke.created] if gke.created is not None else []),
            enabled["iamcredentials"],
        ],
    )

    env = compute.container_environment(
        config,
        project=where.project,
        subscription=work_queue.subscription.id,
        dead_letter_topic=work_queue.dead_letter_topic.id,
        collection=kept.collection,
        bucket=kept.bucket.name if kept.bucket is not None else None,
        cache=kept.cache_url(),
    )
    agents = compute.create_workload(
        config,
        policy,
        names,
        kubeconfig=gke.kubeconfig,
        google_service_account=who.agent.email,
        env=env,
        opts=opts,
        nodes_ready=[*gke.ready, who.agent_binding, *who.grants],
    )
    scaling.create_autoscaler(
        policy,
        names,
        where,
        subscription_id=work_queue.subscription.name,
        keda_account_email=who.keda.email,
        provider=agents.provider,
        deployment=agents.deployment,
        opts=opts,
        depends_on=[*gke.ready, who.keda_binding, *who.grants],
    )
    monitoring.create_alerts(config, names, where, opts, enabled["monitoring"])

    return FleetResources(
        queue=work_queue.subscription.id,
        dead_letter_queue=work_queue.dead_letter_topic.id,
        state_table=kept.collection,
        bucket=kept.bucket.name if kept.bucket is not None else None,
        agent_group=f"{names.namespace}/{names.deployment}",
        send_work={
            "topic": work_queue.topic.id,
            "subscription": work_queue.subscription.id,
            "cluster": gke.name,
            # Where the dead letters are kept: `agentfleet dlq` pulls from it.
            "dead_letter_subscription": work_queue.dead_letter_subscription.id,
        },
    )
