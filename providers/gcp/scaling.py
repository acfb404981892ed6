"""The GCP scaling policy: KEDA's Prometheus scaler on the subscription's backlog, per pod.

What scales: the agents' Deployment, on `pubsub.googleapis.com/subscription/num_undelivered_messages`
of this fleet's subscription, queried through Cloud Monitoring's Prometheus HTTP API
(`https://monitoring.googleapis.com/v1/projects/PROJECT/location/global/prometheus`). The trigger's
`metricType: AverageValue` with `threshold = target_backlog_per_agent` makes the HPA aim for that
many undelivered messages per pod; Pub/Sub counts leased-but-unacked messages as undelivered, so
in-flight work keeps busy pods alive, as the neutral policy (components/policy.py) intends.
`minReplicaCount..maxReplicaCount` are min_agents..max_agents; the HPA's scale-down stabilisation
window is `scale_in_cooldown_seconds`, and so is KEDA's `cooldownPeriod` (the wait before the last
pod goes); scale-up may add up to max_agents pods at once, once per `scale_out_cooldown_seconds`.
With min_agents = 0 KEDA scales to zero, and `activationThreshold` starts the first pod once
`scale_from_zero_threshold` messages are waiting. The query's range always holds a published
sample, so an empty answer is treated as an error, and KEDA's `fallback` then holds the fleet at its
current size instead of reading a backlog of 0.

Why this and not the alternatives:

- KEDA's `gcp-pubsub` scaler is deprecated upstream, and so is `gcp-stackdriver`: both rely on MQL,
  which Cloud Monitoring no longer recommends; KEDA's maintainers point GCP users to the
  `prometheus` scaler against Cloud Monitoring's PromQL endpoint (keda-docs blog, "Google Cloud
  deprecations", 2025-09-15). That endpoint serves every Cloud Monitoring metric, Pub/Sub's
  included, with no exporter or Prometheus server to run; the KEDA operator authenticates with
  Workload Identity (`TriggerAuthentication.spec.podIdentity.provider: gcp`) as a Google service
  account holding only Monitoring Viewer (identity.py).
- The Custom Metrics Stackdriver Adapter + an HPA `External` metric cannot scale to zero without
  the alpha HPAScaleToZero feature gate, which GKE does not enable.
- One external-metrics server per cluster: KEDA's metrics server registers the
  `v1beta1.external.metrics.k8s.io` APIService, so nothing else is installed next to it. Helm's
  ownership checks make a second install (another KEDA, or the Stackdriver adapter) fail loudly
  instead of silently replacing the APIService.

KEDA is installed by this program with a Helm `Release` (chart pinned to KEDA_CHART_VERSION). The
chart is fetched by the Kubernetes provider at `pulumi up`; under Pulumi's mocks (tests,
`agentfleet plan`) the Release is only recorded, so nothing is fetched and no network is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.schema import FleetConfig
from agentfleet.providers.gcp.compute import Workload
from agentfleet.providers.gcp.names import Names
from agentfleet.providers.gcp.queue import Queue

# The trigger's timings are pure numbers, so they live in settings.py, shared with `agentfleet
# simulate` (providers/gcp/simulation.py).
from agentfleet.providers.gcp.settings import (
    FALLBACK_FAILURE_THRESHOLD,
    KEDA_NAMESPACE,
    POLLING_INTERVAL_SECONDS,
    SAMPLE_RANGE_SECONDS,
    Placement,
)

KEDA_CHART = "keda"
KEDA_CHART_REPOSITORY = "https://kedacore.github.io/charts"
KEDA_CHART_VERSION = "2.20.2"  # a chart release seen deployed in public repos (Helm `keda-2.20.2`)
KEDA_API_VERSION = "keda.sh/v1alpha1"
BACKLOG_METRIC = "pubsub.googleapis.com/subscription/num_undelivered_messages"


@dataclass
class Autoscaler:
    keda: k8s.helm.v3.Release
    trigger_authentication: k8s.apiextensions.CustomResource
    scaled_object: k8s.apiextensions.CustomResource


def prometheus_endpoint(project: str) -> str:
    """Cloud Monitoring's Prometheus HTTP API for the project."""
    return f"https://monitoring.googleapis.com/v1/projects/{project}/location/global/prometheus"


def backlog_query(project: str, subscription_id: pulumi.Input[str]) -> pulumi.Output[str]:
    """PromQL: the newest `num_undelivered_messages` sample of exactly this subscription."""
    return pulumi.Output.from_input(subscription_id).apply(
        lambda sub: (
            f'sum(max_over_time({{"__name__"="{BACKLOG_METRIC}","monitored_resource"="pubsub_subscription",'
            f'"project_id"="{project}","subscription_id"="{sub}"}}[{SAMPLE_RANGE_SECONDS}s]))'
        )
    )


def keda_values(names: Names, keda_account_email: pulumi.Input[str]) -> dict[str, object]:
    """Chart values: the operator's KSA, named for this fleet, is annotated for Workload Identity as
    the KEDA GSA."""
    return {
        "serviceAccount": {"operator": {"name": names.keda_operator}},
        "podIdentity": {"gcp": {"enabled": True, "gcpIAMServiceAccount": keda_account_email}},
    }


def scaled_object_spec(
    policy: ScalingPolicy,
    names: Names,
    placement: Placement,
    subscription_id: pulumi.Input[str],
    auth_name: str,
) -> dict[str, object]:
    """The ScaledObject's spec (field names from KEDA's ScaledObject and prometheus scaler docs)."""
    return {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": names.deployment},
        "pollingInterval": POLLING_INTERVAL_SECONDS,
        "cooldownPeriod": policy.scale_in_cooldown_seconds,
        "minReplicaCount": policy.min_agents,
        "maxReplicaCount": policy.max_agents,
        # KEDA: once a scaler has failed failureThreshold times in a row it reports "target metric
        # value * fallback replicas"; with currentReplicasIfHigher, "If the current number of replicas
        # is higher than fallback.replicas, this value will be used". A lost metric holds the fleet.
        "fallback": {
            "failureThreshold": FALLBACK_FAILURE_THRESHOLD,
            "replicas": policy.min_agents,
            "behavior": "currentReplicasIfHigher",
        },
        "advanced": {
            "horizontalPodAutoscalerConfig": {
                "behavior": {
                    "scaleDown": {
                        "stabilizationWindowSeconds": policy.scale_in_cooldown_seconds,
                        "policies": [
                            {"type": "Percent", "value": 100, "periodSeconds": policy.metric_period_seconds}
                        ],
                    },
                    # Like LocalAutoscaler: jump straight to what the backlog calls for, then
                    # wait scale_out_cooldown_seconds before the next step up.
                    "scaleUp": {
                        "stabilizationWindowSeconds": 0,
                        "policies": [
                            {
                                "type": "Pods",
                                "value": policy.max_agents,
                                "periodSeconds": policy.scale_out_cooldown_seconds,
                            }
                        ],
                    },
                }
            }
        },
        "triggers": [
            {
                "type": "prometheus",
                "metricType": "AverageValue",
                "metadata": {
                    "serverAddress": prometheus_endpoint(placement.project),
                    "query": backlog_query(placement.project, subscription_id),
                    "threshold": str(policy.target_backlog_per_agent),
                    "activationThreshold": str(policy.scale_from_zero_threshold - 1),
                    # An empty answer is an error (then the fallback), not a backlog of 0: the range
                    # always holds a sample, so empty means the metric is missing, and reading it
                    # as 0 would scale a busy fleet to zero.
                    "ignoreNullValues": "false",
                },
                "authenticationRef": {"name": auth_name},
            }
        ],
    }


def install_keda(
    parent: pulumi.Resource,
    config: FleetConfig,
    *,
    provider: k8s.Provider,
    keda_account_email: pulumi.Input[str],
    keda_ready: Sequence[pulumi.Resource],
) -> k8s.helm.v3.Release:
    """KEDA in the cluster `provider` reaches, installed once `keda_ready` (its nodes, its Workload
    Identity binding and grant). One per cluster: by the fleet, or by the network fleets share."""
    names = Names(config.name)
    k8s_opts = pulumi.ResourceOptions(parent=parent, provider=provider)
    return k8s.helm.v3.Release(
        f"{names.fleet}-keda",
        name="keda",
        chart=KEDA_CHART,
        version=KEDA_CHART_VERSION,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=KEDA_CHART_REPOSITORY),
        namespace=KEDA_NAMESPACE,
        create_namespace=True,
        atomic=True,
        values=keda_values(names, keda_account_email),
        opts=pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=list(keda_ready))),
    )


def build_autoscaler(
    parent: pulumi.Resource,
    config: FleetConfig,
    placement: Placement,
    *,
    policy: ScalingPolicy,
    queue: Queue,
    workload: Workload,
    keda: k8s.helm.v3.Release,
) -> Autoscaler:
    """The ScaledObject that scales `workload` on `queue`'s backlog, through `keda`."""
    names = Names(config.name)
    deployment = workload.deployment
    k8s_opts = pulumi.ResourceOptions(parent=parent, provider=workload.provider)
    after_keda = pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=[keda, deployment]))
    auth_name = f"{names.fleet}-gcp-workload-identity"
    trigger_authentication = k8s.apiextensions.CustomResource(
        f"{names.fleet}-trigger-auth",
        api_version=KEDA_API_VERSION,
        kind="TriggerAuthentication",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=auth_name, namespace=names.namespace),
        spec={"podIdentity": {"provider": "gcp"}},
        opts=after_keda,
    )
    scaled_object = k8s.apiextensions.CustomResource(
        f"{names.fleet}-scaled-object",
        api_version=KEDA_API_VERSION,
        kind="ScaledObject",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=names.deployment, namespace=names.namespace),
        spec=scaled_object_spec(policy, names, placement, queue.subscription.name, auth_name),
        opts=pulumi.ResourceOptions.merge(
            after_keda, pulumi.ResourceOptions(depends_on=[trigger_authentication])
        ),
    )
    return Autoscaler(keda=keda, trigger_authentication=trigger_authentication, scaled_object=scaled_object)
