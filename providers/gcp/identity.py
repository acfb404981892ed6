"""Who may do what: the agents' Google service account, bound to their Kubernetes service account.

The agent pods run as a Kubernetes service account (KSA) that Workload Identity maps to a Google
service account (GSA): the GSA grants `roles/iam.workloadIdentityUser` to the member
`serviceAccount:PROJECT.svc.id.goog[NAMESPACE/KSA]`, and the KSA carries the
`iam.gke.io/gcp-service-account` annotation (compute.py). No keys exist anywhere.

The GSA holds only this fleet's roles, each granted on the resource itself: subscriber and viewer
on the subscription (the runtime's readiness check reads the subscription with `subscriptions.get`,
which the subscriber role does not include), publisher on the dead-letter topic (the runtime
publishes permanent failures there), object admin on the bucket, and Firestore user conditioned on
the one database the fleet uses (Firestore has no per-collection IAM). KEDA's operator gets its own
GSA with Monitoring Viewer, which is all the Prometheus-API query for the backlog needs, bound to
a KEDA operator service account named for this fleet (names.py: a binding applies in every cluster
of the project, so the chart's default name would hand the role to every KEDA there).

The workload pool `PROJECT.svc.id.goog` only exists once a cluster with Workload Identity does: a
`workloadIdentityUser` binding created before it fails with "Identity Pool does not exist", so the
two bindings wait for the new cluster, and for the IAM Credentials API the token exchange goes
through; the pods that use them wait for the bindings.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from agentfleet.components.schema import FleetConfig
from agentfleet.providers.gcp.apis import Apis
from agentfleet.providers.gcp.cluster import Cluster
from agentfleet.providers.gcp.names import Names
from agentfleet.providers.gcp.queue import Queue
from agentfleet.providers.gcp.settings import KEDA_NAMESPACE, Placement
from agentfleet.providers.gcp.state import State

WORKLOAD_IDENTITY_ROLE = "roles/iam.workloadIdentityUser"
#: What the agent holds on its subscription: pull/ack/modify, and `subscriptions.get` for `/ready`.
SUBSCRIPTION_ROLES = ("roles/pubsub.subscriber", "roles/pubsub.viewer")


@dataclass
class Identity:
    agent: gcp.serviceaccount.Account
    agent_binding: gcp.serviceaccount.IAMMember
    grants: list[pulumi.Resource]


@dataclass
class KedaIdentity:
    """The KEDA operator's Google account (one per KEDA, so per cluster the program installs it in)."""

    account: gcp.serviceaccount.Account
    binding: gcp.serviceaccount.IAMMember
    grant: gcp.projects.IAMMember


def workload_identity_member(project: str, namespace: str, ksa: str) -> str:
    """The IAM member naming one Kubernetes service account in the project's workload pool."""
    return f"serviceAccount:{project}.svc.id.goog[{namespace}/{ksa}]"


def _bind(
    name: str, account: gcp.serviceaccount.Account, member: str, opts: pulumi.ResourceOptions
) -> gcp.serviceaccount.IAMMember:
    return gcp.serviceaccount.IAMMember(
        name, service_account_id=account.name, role=WORKLOAD_IDENTITY_ROLE, member=member, opts=opts
    )


def _workload_account(
    names: Names,
    placement: Placement,
    role: str,
    description: str,
    kubernetes_account: tuple[str, str],
    after_api: pulumi.ResourceOptions,
    after_pool: pulumi.ResourceOptions,
) -> tuple[gcp.serviceaccount.Account, gcp.serviceaccount.IAMMember]:
    """A Google service account and the Workload Identity binding that lets the Kubernetes
    service account `(namespace, name)` act as it."""
    account = gcp.serviceaccount.Account(
        f"{names.fleet}-{role}",
        account_id=names.account_id(role),
        display_name=f"agentfleet {names.fleet} {description}",
        project=placement.project,
        opts=after_api,
    )
    binding = _bind(
        f"{names.fleet}-{role}-workload-identity",
        account,
        workload_identity_member(placement.project, *kubernetes_account),
        after_pool,
    )
    return account, binding


def _after(
    parent: pulumi.Resource, apis: Apis, created: pulumi.Resource | None
) -> tuple[pulumi.ResourceOptions, pulumi.ResourceOptions, pulumi.ResourceOptions]:
    """Options for a grant, for an account (after the IAM API) and for a Workload Identity binding.

    The workload pool exists once the new cluster does (an existing one already has it), and pods
    exchange tokens through the IAM Credentials API.
    """
    opts = pulumi.ResourceOptions(parent=parent)
    after_api = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[apis["iam"]]))
    after_pool = pulumi.ResourceOptions.merge(
        opts,
        pulumi.ResourceOptions(
            depends_on=[*([created] if created is not None else []), apis["iamcredentials"]]
        ),
    )
    return opts, after_api, after_pool


def build_identity(
    parent: pulumi.Resource,
    config: FleetConfig,
    placement: Placement,
    *,
    apis: Apis,
    queue: Queue,
    state: State,
    cluster: Cluster,
) -> Identity:
    """The agents' account, its Workload Identity binding and its grants on this fleet's resources."""
    names = Names(config.name)
    opts, after_api, after_pool = _after(parent, apis, cluster.created)
    agent, agent_binding = _workload_account(
        names, placement, "agent", "agents", (names.namespace, names.ksa), after_api, after_pool
    )
    grants: list[pulumi.Resource] = [
        gcp.pubsub.SubscriptionIAMMember(
            f"{names.fleet}-agent-{role.rsplit('.', 1)[1]}",
            project=placement.project,
            subscription=queue.subscription.name,
            role=role,
            member=agent.member,
            opts=opts,
        )
        for role in SUBSCRIPTION_ROLES
    ]
    grants.append(
        gcp.pubsub.TopicIAMMember(
            f"{names.fleet}-agent-dead-letter-publisher",
            project=placement.project,
            topic=queue.dead_letter_topic.name,
            role="roles/pubsub.publisher",
            member=agent.member,
            opts=opts,
        )
    )
    if state.bucket is not None:
        grants.append(
            gcp.storage.BucketIAMMember(
                f"{names.fleet}-agent-objects",
                bucket=state.bucket.name,
                role="roles/storage.objectAdmin",
                member=agent.member,
                opts=opts,
            )
        )
    if state.database is not None:
        grants.append(
            gcp.projects.IAMMember(
                f"{names.fleet}-agent-firestore",
                project=placement.project,
                role="roles/datastore.user",
                member=agent.member,
                condition=gcp.projects.IAMMemberConditionArgs(
                    title=f"agentfleet-{names.fleet}-database",
                    description="Only the Firestore database the fleet keeps its state in",
                    expression=f'resource.name == "{state.database}"',
                ),
                opts=opts,
            )
        )

    return Identity(agent=agent, agent_binding=agent_binding, grants=grants)


def build_keda_identity(
    parent: pulumi.Resource,
    config: FleetConfig,
    placement: Placement,
    *,
    apis: Apis,
    created: pulumi.Resource | None,
) -> KedaIdentity:
    """KEDA's account, bound to the operator's service account named for `config.name` (the fleet
    or the shared network, whichever installs KEDA), with Monitoring Viewer on the project."""
    names = Names(config.name)
    opts, after_api, after_pool = _after(parent, apis, created)
    keda, keda_binding = _workload_account(
        names,
        placement,
        "keda",
        "KEDA operator (reads the backlog metric)",
        (KEDA_NAMESPACE, names.keda_operator),
        after_api,
        after_pool,
    )
    grant = gcp.projects.IAMMember(
        f"{names.fleet}-keda-monitoring-viewer",
        project=placement.project,
        role="roles/monitoring.viewer",
        member=keda.member,
        opts=opts,
    )
    return KedaIdentity(account=keda, binding=keda_binding, grant=grant)
