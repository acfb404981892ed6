"""GCP: one `FleetConfig` -> Pub/Sub + Firestore/GCS(/Memorystore) + GKE + KEDA, as children of the fleet.

The order follows the dependencies: APIs, the queue, state, the cluster and its agent pool,
identities (their Workload Identity bindings need the cluster's workload pool), then the Kubernetes
objects through a provider bound to that cluster, then the autoscaler and the alerts. Each module
has one job; this one wires them and returns the `FleetResources` the component exports
(docs/DESIGN.md, "Stack outputs").
"""

from __future__ import annotations

import pulumi

from components.config import FleetConfig
from components.fleet import FleetResources
from components.policy import ScalingPolicy
from providers.gcp import alerts, apis, cluster, identity, pubsub, scaling, state, workload
from providers.gcp.settings import names as fleet_names
from providers.gcp.settings import placement


def network_id(project: str, network: str) -> str:
    """Memorystore wants the network's full name; a bare name means a network of this project."""
    return network if network.startswith("projects/") else f"projects/{project}/global/networks/{network}"


def build(parent: pulumi.ComponentResource, config: FleetConfig, policy: ScalingPolicy) -> FleetResources:
    where = placement()
    names = fleet_names(config)
    opts = pulumi.ResourceOptions(parent=parent)

    enabled = apis.enable_apis(names, where, opts, cache=config.state.cache)
    queue = pubsub.create_queue(config, names, where, opts, enabled["pubsub"])
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
        queue,
        kept,
        opts,
        enabled["iam"],
        workload_identity_after=[
            *([gke.created] if gke.created is not None else []),
            enabled["iamcredentials"],
        ],
    )

    env = workload.container_environment(
        config,
        project=where.project,
        subscription=queue.subscription.id,
        dead_letter_topic=queue.dead_letter_topic.id,
        collection=kept.collection,
        bucket=kept.bucket.name if kept.bucket is not None else None,
        cache=kept.cache_url(),
    )
    agents = workload.create_workload(
        config,
        policy,
        names,
        kubeconfig=gke.kubeconfig,
        google_service_account=who.agent.email,
        env=env,
        opts=opts,
        nodes_ready=[*gke.ready, who.agent_binding, *who.grants],
    )
    autoscaler = scaling.create_autoscaler(
        policy,
        names,
        where,
        subscription_id=queue.subscription.name,
        keda_account_email=who.keda.email,
        provider=agents.provider,
        deployment=agents.deployment,
        opts=opts,
        depends_on=[*gke.ready, who.keda_binding, *who.grants],
    )
    alarms = alerts.create_alerts(config, names, where, opts, enabled["monitoring"])

    children: dict[str, pulumi.Resource] = {
        "topic": queue.topic,
        "queue": queue.subscription,
        "dead_letter_topic": queue.dead_letter_topic,
        "dead_letter_subscription": queue.dead_letter_subscription,
        "dead_letter_forwarding": queue.grants[0],
        "dead_letter_source_access": queue.grants[1],
        "agent_account": who.agent,
        "workload_identity": who.agent_binding,
        "keda_account": who.keda,
        "keda_workload_identity": who.keda_binding,
        "agent_pool": gke.agent_pool,
        "k8s_provider": agents.provider,
        "namespace": agents.namespace,
        "service_account": agents.service_account,
        "deployment": agents.deployment,
        "disruption_budget": agents.disruption_budget,
        "keda": autoscaler.keda,
        "trigger_authentication": autoscaler.trigger_authentication,
        "scaling_policy": autoscaler.scaled_object,
        "alert_oldest_message": alarms.oldest_message,
        "alert_dead_letters": alarms.dead_letters,
    }
    if gke.created is not None:
        children["cluster"] = gke.created
    if kept.bucket is not None:
        children["bucket"] = kept.bucket
    if kept.cache is not None:
        children["cache"] = kept.cache

    return FleetResources(
        queue=queue.subscription.id,
        dead_letter_queue=queue.dead_letter_topic.id,
        state_table=kept.collection,
        bucket=kept.bucket.name if kept.bucket is not None else None,
        agent_group=f"{names.namespace}/{names.deployment}",
        send_work={"topic": queue.topic.id, "subscription": queue.subscription.id, "cluster": gke.name},
        children=children,
    )
