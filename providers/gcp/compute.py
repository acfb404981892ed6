"""The agents as Kubernetes objects, applied through a provider bound to the fleet's GKE cluster.

One pod is one agent. The Deployment carries the environment contract (agent/contract.py), the
probes the runtime serves (`/healthz` liveness, `/ready` readiness, and a startup probe on
`/healthz` that allows `warmup_seconds` before liveness starts counting), a termination grace
period of `policy.shutdown_grace_seconds` (the drain timeout plus a margin for the last ack), and a
non-root, read-only-root-filesystem security context with a writable `/tmp`.

Busy agents protect themselves from scale-in (docs/gcp.md, "Scale-in"): the runtime annotates its
own pod, named by the downward API (`AGENTFLEET_POD_NAME`, `AGENTFLEET_POD_NAMESPACE`), with a
high `controller.kubernetes.io/pod-deletion-cost` and `cluster-autoscaler.kubernetes.io/safe-to-evict:
"false"` while it holds work. A Role in the fleet's namespace allows exactly `patch` on `pods`,
bound to the agent's service account only; nothing cluster-wide is granted.

The Deployment never states `replicas`: the autoscaler owns the replica count, and a second
`pulumi up` must not reset what it chose (it is also listed in `ignore_changes`). The
PodDisruptionBudget allows one voluntary eviction at a time (node drains, upgrades), which still
works at zero replicas, where a `minAvailable` budget would not.

Pulumi waits for a Deployment to be ready, and gives up after 10 minutes by default. The first
create needs a node scaled up from zero, the image pulled, Workload Identity in place and the
warm-up (up to an hour); a rollout waits a warm-up for each surge wave. The Deployment's custom
timeouts are computed from those (`rollout_timeout_seconds`), so `pulumi up` still reports a
rollout that never becomes ready, instead of skipping the wait (`pulumi.com/skipAwait`) and
reporting success for a broken image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from agentfleet.agent import contract
from agentfleet.components.environment import agent_environment
from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.schema import FleetConfig
from agentfleet.providers.gcp.cluster import POOL_LABEL, Cluster
from agentfleet.providers.gcp.identity import Identity
from agentfleet.providers.gcp.names import Names
from agentfleet.providers.gcp.queue import Queue
from agentfleet.providers.gcp.secrets import Secrets
from agentfleet.providers.gcp.settings import Placement
from agentfleet.providers.gcp.sizing import MAX_SURGE_PERCENT, agent_resources, surge_pods
from agentfleet.providers.gcp.state import State

HEALTH_PATH = "/healthz"
READY_PATH = "/ready"
PROBE_PERIOD_SECONDS = 10
#: Non-root user and group the agent runs as; any image runs under it with a writable /tmp.
RUN_AS = 10001
CONTAINER = "agent"
#: Allowance for a new agent node: the cluster autoscaler's scale-up from zero, boot, image pull.
NODE_PROVISION_SECONDS = 600
#: Allowance for a pod on a ready node to be scheduled, pulled, started and pass a probe.
POD_START_SECONDS = 120


#: The only permission an agent has in Kubernetes: patch pods (its own annotations) in its namespace.
POD_PATCHER_RULES = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["patch"]}]
#: How the runtime protects a busy agent on GKE (agent/contract.py PROTECTIONS).
PROTECTION = "kubernetes-pod"


@dataclass
class Workload:
    provider: k8s.Provider
    namespace: k8s.core.v1.Namespace
    service_account: k8s.core.v1.ServiceAccount
    pod_patcher: k8s.rbac.v1.RoleBinding
    deployment: k8s.apps.v1.Deployment
    disruption_budget: k8s.policy.v1.PodDisruptionBudget


def selector_labels(names: Names) -> dict[str, str]:
    return {"app.kubernetes.io/name": "agentfleet-agent", "app.kubernetes.io/instance": names.fleet}


def startup_failure_threshold(warmup_seconds: int) -> int:
    """Enough startup-probe periods to cover the warm-up, plus three for a slow start."""
    return math.ceil(warmup_seconds / PROBE_PERIOD_SECONDS) + 3


def container_environment(
    config: FleetConfig, placement: Placement, queue: Queue, state: State, secrets: Secrets
) -> list[k8s.core.v1.EnvVarArgs]:
    """The agent container's environment: the neutral contract plus the Pub/Sub-specific names,
    and the references (never the values) of the agent's secrets."""
    env: dict[str, pulumi.Input[str]] = dict(agent_environment(config))
    env.update(
        {
            contract.BACKEND: "pubsub",
            contract.QUEUE: queue.subscription.id,
            contract.DEAD_LETTER_QUEUE: queue.dead_letter_topic.id,
            contract.LIFECYCLE: "none",
            contract.PROTECTION: PROTECTION,
            contract.REGION: placement.project,
            "GOOGLE_CLOUD_PROJECT": placement.project,
        }
    )
    if state.collection is not None:
        env[contract.STATE] = state.collection
    if state.bucket is not None:
        env[contract.BUCKET] = state.bucket.name
    cache = state.cache_url()
    if cache is not None:
        env[contract.CACHE] = cache
    references = secrets.environment()
    if references is not None:
        env[contract.SECRETS] = references
    # The pod's own name and namespace, from the downward API, so the agent can annotate itself.
    own_pod = [
        k8s.core.v1.EnvVarArgs(
            name=name,
            value_from=k8s.core.v1.EnvVarSourceArgs(
                field_ref=k8s.core.v1.ObjectFieldSelectorArgs(field_path=field)
            ),
        )
        for name, field in (
            (contract.POD_NAME, "metadata.name"),
            (contract.POD_NAMESPACE, "metadata.namespace"),
        )
    ]
    return [k8s.core.v1.EnvVarArgs(name=key, value=value) for key, value in sorted(env.items())] + own_pod


def rollout_timeout_seconds(config: FleetConfig, policy: ScalingPolicy) -> tuple[int, int]:
    """(create, update) seconds Pulumi waits for the Deployment to be ready.

    Create: one node from zero, one pod, one warm-up (Kubernetes starts a new Deployment with one
    replica). Update at full size: a node for the surge, then one warm-up per surge wave of
    `surge_pods(max_agents)` pods until all max_agents are replaced.
    """
    per_pod = policy.warmup_seconds + POD_START_SECONDS
    create = NODE_PROVISION_SECONDS + per_pod
    waves = math.ceil(policy.max_agents / max(1, surge_pods(policy.max_agents)))
    update = NODE_PROVISION_SECONDS + waves * per_pod
    return create, max(create, update)


def _probe(path: str, port: int, failure_threshold: int) -> k8s.core.v1.ProbeArgs:
    return k8s.core.v1.ProbeArgs(
        http_get=k8s.core.v1.HTTPGetActionArgs(path=path, port=port),
        period_seconds=PROBE_PERIOD_SECONDS,
        timeout_seconds=3,
        failure_threshold=failure_threshold,
    )


def kubernetes_provider(
    parent: pulumi.Resource, config: FleetConfig, kubeconfig: pulumi.Input[str]
) -> k8s.Provider:
    """The Kubernetes provider for a cluster, named for `config.name` (the fleet's own cluster, or
    the network's that fleets share)."""
    return k8s.Provider(
        f"{Names(config.name).fleet}-gke", kubeconfig=kubeconfig, opts=pulumi.ResourceOptions(parent=parent)
    )


def build_workload(
    parent: pulumi.Resource,
    config: FleetConfig,
    placement: Placement,
    *,
    provider: k8s.Provider,
    image: pulumi.Input[str],
    policy: ScalingPolicy,
    queue: Queue,
    state: State,
    cluster: Cluster,
    identity: Identity,
    secrets: Secrets,
) -> Workload:
    """The agents' namespace, service account, Deployment and disruption budget on `cluster`,
    through `provider`, running `image`.

    The Deployment waits for the nodes it runs on and for the agent's Workload Identity binding and
    grants, and its secrets' versions and read grants: a pod that starts before them fails its
    first Google call.
    """
    names = Names(config.name)
    opts = pulumi.ResourceOptions(parent=parent)
    nodes_ready = [*cluster.ready, identity.agent_binding, *identity.grants, *secrets.ready]
    k8s_opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(provider=provider))
    labels = selector_labels(names)
    port = config.agent.port
    sizes = agent_resources()
    create_s, update_s = rollout_timeout_seconds(config, policy)

    namespace = k8s.core.v1.Namespace(
        f"{names.fleet}-namespace",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=names.namespace, labels={"app.kubernetes.io/part-of": "agentfleet"}
        ),
        opts=k8s_opts,
    )
    in_namespace = pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=[namespace]))
    service_account = k8s.core.v1.ServiceAccount(
        f"{names.fleet}-ksa",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=names.ksa,
            namespace=names.namespace,
            labels=labels,
            annotations={"iam.gke.io/gcp-service-account": identity.agent.email},
        ),
        opts=in_namespace,
    )
    role = k8s.rbac.v1.Role(
        f"{names.fleet}-pod-patcher",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=names.pod_patcher_role, namespace=names.namespace, labels=labels
        ),
        rules=[
            k8s.rbac.v1.PolicyRuleArgs(api_groups=r["apiGroups"], resources=r["resources"], verbs=r["verbs"])
            for r in POD_PATCHER_RULES
        ],
        opts=in_namespace,
    )
    pod_patcher = k8s.rbac.v1.RoleBinding(
        f"{names.fleet}-pod-patcher-binding",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=names.pod_patcher_role, namespace=names.namespace, labels=labels
        ),
        role_ref=k8s.rbac.v1.RoleRefArgs(
            api_group="rbac.authorization.k8s.io", kind="Role", name=names.pod_patcher_role
        ),
        subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=names.ksa, namespace=names.namespace)],
        opts=pulumi.ResourceOptions.merge(in_namespace, pulumi.ResourceOptions(depends_on=[role])),
    )
    container = k8s.core.v1.ContainerArgs(
        name=CONTAINER,
        image=image,
        ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=port, protocol="TCP")],
        env=container_environment(config, placement, queue, state, secrets),
        startup_probe=_probe(HEALTH_PATH, port, startup_failure_threshold(policy.warmup_seconds)),
        liveness_probe=_probe(HEALTH_PATH, port, 3),
        readiness_probe=_probe(READY_PATH, port, 1),
        resources=k8s.core.v1.ResourceRequirementsArgs(requests=sizes["requests"], limits=sizes["limits"]),
        security_context=k8s.core.v1.SecurityContextArgs(
            allow_privilege_escalation=False,
            read_only_root_filesystem=True,
            run_as_non_root=True,
            capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        ),
        volume_mounts=[k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")],
    )
    pod = k8s.core.v1.PodSpecArgs(
        service_account_name=names.ksa,
        termination_grace_period_seconds=policy.shutdown_grace_seconds,
        containers=[container],
        node_selector={POOL_LABEL: names.fleet},
        tolerations=[
            k8s.core.v1.TolerationArgs(
                key=POOL_LABEL, operator="Equal", value=names.fleet, effect="NoSchedule"
            )
        ],
        security_context=k8s.core.v1.PodSecurityContextArgs(
            run_as_non_root=True,
            run_as_user=RUN_AS,
            run_as_group=RUN_AS,
            fs_group=RUN_AS,
            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
        ),
        volumes=[k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs())],
    )
    deployment = k8s.apps.v1.Deployment(
        f"{names.fleet}-deployment",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=names.deployment, namespace=names.namespace, labels=labels),
        spec=k8s.apps.v1.DeploymentSpecArgs(
            # No `replicas`: the autoscaler owns it (see module docstring).
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
            strategy=k8s.apps.v1.DeploymentStrategyArgs(
                type="RollingUpdate",
                rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(
                    max_surge=f"{MAX_SURGE_PERCENT}%", max_unavailable=0
                ),
            ),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                spec=pod,
            ),
        ),
        opts=pulumi.ResourceOptions.merge(
            in_namespace,
            pulumi.ResourceOptions(
                depends_on=[service_account, pod_patcher, *nodes_ready],
                ignore_changes=["spec.replicas"],
                # pulumi-kubernetes: "If the Deployment has not reached a Ready state after 10
                # minutes, it will time out and mark the resource update as Failed. You can override
                # the default timeout value by setting the 'customTimeouts' option on the resource."
                custom_timeouts=pulumi.CustomTimeouts(create=f"{create_s}s", update=f"{update_s}s"),
            ),
        ),
    )
    disruption_budget = k8s.policy.v1.PodDisruptionBudget(
        f"{names.fleet}-pdb",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=names.deployment, namespace=names.namespace, labels=labels),
        spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
            max_unavailable=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels)
        ),
        opts=in_namespace,
    )
    return Workload(
        provider=provider,
        namespace=namespace,
        service_account=service_account,
        pod_patcher=pod_patcher,
        deployment=deployment,
        disruption_budget=disruption_budget,
    )
