"""The `fleet.gcp` settings section and Google Cloud's own limits on a fleet config. Imports no SDK.

Runs before anything is registered (`load_fleet_config` calls `validate`), so every bad value is
reported in one message and nothing is half-created:

- Pub/Sub: ack deadline 10-600 s, dead-letter max delivery attempts 5-100, subscription message
  retention 10 minutes to 7 days.
- Kubernetes: the HPA that KEDA drives accepts a scale-down stabilisation window of at most one
  hour (`spec.behavior.scaleDown.stabilizationWindowSeconds <= 3600`, kedacore/keda#4976), and
  the fleet name becomes a namespace and service-account ids, which must end in a letter or digit.
- GKE: one agent must fit on one node of `gcp.machine_type`, and the drain must fit the 600 s the
  cluster autoscaler waits for a pod when it removes a node.
- Names: the fleet name starts the Pub/Sub topic and subscription ids (which must not start with
  "goog") and the bucket name (which must not start with "goog" nor contain "google"), and it is
  the Kubernetes namespace, which must not be one the cluster already has or KEDA's.

`Placement` (project and region) is here as a plain record; fleet.py reads it from the stack.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import ClassVar, Literal

from pydantic import Field

from agentfleet.components.policy import SHUTDOWN_MARGIN_SECONDS
from agentfleet.components.problems import ConfigProblem
from agentfleet.components.schema import FleetConfig, TargetSettings
from agentfleet.providers.gcp.sizing import AGENT_CPU_REQUEST_MILLI, AGENT_MEMORY_REQUEST_MIB, pods_per_node


class GcpSettings(TargetSettings):
    """GCP-only settings. Leave cluster unset to create a GKE cluster; network defaults to 'default'.

    network, subnetwork, pods_range, services_range: where a new cluster's nodes, pods and services
    get their addresses. A custom-mode VPC needs `subnetwork`; a Shared VPC network (one in another
    project, `projects/HOST/global/networks/NAME`) needs the subnetwork's full path and both
    secondary range names, and brings its own NAT and firewall rules (docs/gcp.md).
    control_plane_cidrs: the only addresses that may reach a new cluster's control plane by IP;
    empty by default, so the program and kubectl reach it through its IAM-checked DNS endpoint.
    kubernetes_credentials: how the kubeconfig the program uses signs in: `gcloud` (an operator's
    `gcloud auth login`) or `application-default` (Application Default Credentials: a key file,
    workload identity federation, a CI runner's attached account).
    force_destroy_bucket: `pulumi destroy` deletes the bucket with its objects (off: it fails on a
    bucket that still holds objects).
    """

    section: ClassVar[str] = "gcp"

    machine_type: str = "e2-standard-2"
    cluster: str | None = None
    network: str | None = None
    subnetwork: str | None = None
    pods_range: str | None = None
    services_range: str | None = None
    control_plane_cidrs: list[str] = Field(default_factory=list)
    kubernetes_credentials: Literal["gcloud", "application-default"] = "gcloud"
    force_destroy_bucket: bool = False


@dataclass(frozen=True)
class Placement:
    """The project and region every resource of this fleet is created in (`gcp:project`, `gcp:region`)."""

    project: str
    region: str


ACK_DEADLINE_MIN_SECONDS = 10
ACK_DEADLINE_MAX_SECONDS = 600
DEAD_LETTER_MIN_ATTEMPTS = 5
DEAD_LETTER_MAX_ATTEMPTS = 100
RETENTION_MIN_SECONDS = 600
RETENTION_MAX_SECONDS = 604_800
#: Pub/Sub retry policy bounds (`minimumBackoff`, `maximumBackoff`: 0-600 s).
RETRY_MIN_BACKOFF_SECONDS = 10
RETRY_MAX_BACKOFF_SECONDS = 600
#: cluster-autoscaler's `--max-graceful-termination-sec` (600, not changeable on GKE): "Maximum number
#: of seconds CA waits for pod termination when trying to scale down a node".
AUTOSCALER_MAX_GRACE_SECONDS = 600
#: The longest drain whose pod grace period (drain + the shutdown margin) the autoscaler still waits for.
MAX_DRAIN_TIMEOUT_SECONDS = AUTOSCALER_MAX_GRACE_SECONDS - SHUTDOWN_MARGIN_SECONDS
#: Kubernetes validates `behavior.scaleDown.stabilizationWindowSeconds` to 0-3600.
HPA_MAX_STABILIZATION_SECONDS = 3600

_K8S_NAME_END = re.compile(r"[a-z0-9]$")
#: Namespace the program installs KEDA into (one KEDA per cluster: see scaling.py).
KEDA_NAMESPACE = "keda"
#: Namespaces a GKE cluster already has, and KEDA's; the fleet's own namespace is created and
#: deleted with the stack, so it must not be one of them.
RESERVED_NAMESPACES = ("default", KEDA_NAMESPACE)
RESERVED_NAMESPACE_PREFIXES = ("kube-", "gke-")
_MACHINE_TYPE = re.compile(r"^[a-z][a-z0-9]*-[a-z0-9]+(-[0-9]+){0,2}$")
_CLUSTER_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")
_NETWORK = re.compile(
    r"^([a-z]([-a-z0-9]{0,61}[a-z0-9])?|projects/[^/]+/global/networks/[a-z]([-a-z0-9]{0,61}[a-z0-9])?)$"
)
_SUBNETWORK = re.compile(
    r"^([a-z]([-a-z0-9]{0,61}[a-z0-9])?"
    r"|projects/[^/]+/regions/[a-z0-9-]+/subnetworks/[a-z]([-a-z0-9]{0,61}[a-z0-9])?)$"
)
_RANGE_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
#: "cidr_blocks define up to 50 external networks that could access Kubernetes master through HTTPS."
MAX_CONTROL_PLANE_CIDRS = 50
#: Tags that name no particular image: a new push under them changes no Deployment, so nothing rolls out.


def validate(config: FleetConfig) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    q, s, g = config.queue, config.scaling, config.settings_for(GcpSettings)
    if not ACK_DEADLINE_MIN_SECONDS <= q.visibility_timeout_seconds <= ACK_DEADLINE_MAX_SECONDS:
        problems.append(
            ConfigProblem(
                "fleet.queue.visibility_timeout_seconds",
                q.visibility_timeout_seconds,
                f"must be between {ACK_DEADLINE_MIN_SECONDS} and {ACK_DEADLINE_MAX_SECONDS} on GCP "
                "(Pub/Sub ack deadline; the runtime extends the lease for longer work)",
            )
        )
    if not DEAD_LETTER_MIN_ATTEMPTS <= q.max_receive_count <= DEAD_LETTER_MAX_ATTEMPTS:
        problems.append(
            ConfigProblem(
                "fleet.queue.max_receive_count",
                q.max_receive_count,
                f"must be between {DEAD_LETTER_MIN_ATTEMPTS} and {DEAD_LETTER_MAX_ATTEMPTS} on GCP "
                "(Pub/Sub dead-letter policy max delivery attempts)",
            )
        )
    if not RETENTION_MIN_SECONDS <= q.retention_seconds <= RETENTION_MAX_SECONDS:
        problems.append(
            ConfigProblem(
                "fleet.queue.retention_seconds",
                q.retention_seconds,
                f"must be between {RETENTION_MIN_SECONDS} and {RETENTION_MAX_SECONDS} on GCP "
                "(Pub/Sub subscription retention: 10 minutes to 7 days)",
            )
        )
    if config.agent.drain_timeout_seconds > MAX_DRAIN_TIMEOUT_SECONDS:
        problems.append(
            ConfigProblem(
                "fleet.agent.drain_timeout_seconds",
                config.agent.drain_timeout_seconds,
                f"must be <= {MAX_DRAIN_TIMEOUT_SECONDS} on GCP (GKE's cluster autoscaler waits at most "
                f"{AUTOSCALER_MAX_GRACE_SECONDS} s for a pod to stop when it removes a node; the pod's grace "
                f"period is the drain timeout + {SHUTDOWN_MARGIN_SECONDS} s)",
            )
        )
    if s.scale_in_cooldown_seconds > HPA_MAX_STABILIZATION_SECONDS:
        problems.append(
            ConfigProblem(
                "fleet.scaling.scale_in_cooldown_seconds",
                s.scale_in_cooldown_seconds,
                f"must be <= {HPA_MAX_STABILIZATION_SECONDS} on GCP "
                "(Kubernetes HPA scale-down stabilization window)",
            )
        )
    if not _K8S_NAME_END.search(config.name):
        problems.append(
            ConfigProblem(
                "fleet.name",
                config.name,
                "must end with a lowercase letter or digit on GCP "
                "(it names the Kubernetes namespace and the Google service accounts)",
            )
        )
    if config.name.startswith("goog") or "google" in config.name:
        problems.append(
            ConfigProblem(
                "fleet.name",
                config.name,
                "must not start with 'goog' or contain 'google' on GCP "
                "(Google reserves them in Pub/Sub topic and Cloud Storage bucket names)",
            )
        )
    if config.name in RESERVED_NAMESPACES or config.name.startswith(RESERVED_NAMESPACE_PREFIXES):
        problems.append(
            ConfigProblem(
                "fleet.name",
                config.name,
                "must not be 'default' or 'keda' or start with 'kube-' or 'gke-' on GCP "
                "(it names the fleet's own Kubernetes namespace)",
            )
        )
    if not _MACHINE_TYPE.match(g.machine_type):
        problems.append(
            ConfigProblem(
                "fleet.gcp.machine_type",
                g.machine_type,
                "must be a Compute Engine machine type such as 'e2-standard-2'",
            )
        )
    elif pods_per_node(g.machine_type) < 1:
        problems.append(
            ConfigProblem(
                "fleet.gcp.machine_type",
                g.machine_type,
                f"is too small for one agent (needs {AGENT_CPU_REQUEST_MILLI}m CPU and "
                f"{AGENT_MEMORY_REQUEST_MIB}Mi memory besides GKE's reservations); use e.g. 'e2-standard-2'",
            )
        )
    if g.cluster is not None and not _CLUSTER_NAME.match(g.cluster):
        problems.append(
            ConfigProblem(
                "fleet.gcp.cluster",
                g.cluster,
                "must be the name of an existing GKE cluster in gcp:region "
                "(1-40 chars: lowercase letters, digits, '-')",
            )
        )
    if g.network is not None and not _NETWORK.match(g.network):
        problems.append(
            ConfigProblem(
                "fleet.gcp.network",
                g.network,
                "must be a VPC network name or 'projects/PROJECT/global/networks/NAME'",
            )
        )
    problems.extend(_network_problems(g))
    return problems


def _network_problems(g: GcpSettings) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    if g.subnetwork is not None and not _SUBNETWORK.match(g.subnetwork):
        problems.append(
            ConfigProblem(
                "fleet.gcp.subnetwork",
                g.subnetwork,
                "must be a subnetwork name or 'projects/PROJECT/regions/REGION/subnetworks/NAME'",
            )
        )
    for key, value in (("pods_range", g.pods_range), ("services_range", g.services_range)):
        if value is not None and not _RANGE_NAME.match(value):
            problems.append(
                ConfigProblem(
                    f"fleet.gcp.{key}", value, "must be the name of a secondary range of gcp.subnetwork"
                )
            )
    if (g.pods_range is None) != (g.services_range is None):
        problems.append(
            ConfigProblem(
                "fleet.gcp.services_range" if g.services_range is None else "fleet.gcp.pods_range",
                None,
                "must be set together with the other secondary range (pods_range and services_range)",
            )
        )
    if g.pods_range is not None and g.subnetwork is None:
        problems.append(
            ConfigProblem("fleet.gcp.subnetwork", None, "must be set when pods_range and services_range are")
        )
    if len(g.control_plane_cidrs) > MAX_CONTROL_PLANE_CIDRS:
        problems.append(
            ConfigProblem(
                "fleet.gcp.control_plane_cidrs",
                len(g.control_plane_cidrs),
                f"must list at most {MAX_CONTROL_PLANE_CIDRS} address ranges (GKE authorized networks)",
            )
        )
    for cidr in g.control_plane_cidrs:
        try:
            ipaddress.IPv4Network(cidr)
        except ValueError:
            problems.append(
                ConfigProblem(
                    "fleet.gcp.control_plane_cidrs",
                    cidr,
                    "must be IPv4 address ranges in CIDR form with no host bits set, such as 203.0.113.0/24",
                )
            )
    if g.cluster is not None:
        for key in ("subnetwork", "pods_range", "services_range", "control_plane_cidrs"):
            value = getattr(g, key)
            if value:
                problems.append(
                    ConfigProblem(
                        f"fleet.gcp.{key}",
                        value,
                        "applies only to a cluster this program creates; leave it unset with gcp.cluster",
                    )
                )
    return problems


#: Provider settings a GCP stack cannot do without, checked before anything is registered.
REQUIRED_SETTINGS = {
    "gcp:project": "must be set to the Google Cloud project id",
    "gcp:region": "must be set to a Google Cloud region such as europe-west1",
}


# -- the KEDA trigger's timings (providers/gcp/scaling.py configures the ScaledObject with them) --

#: Seconds between two KEDA checks of the trigger (its `pollingInterval`).
POLLING_INTERVAL_SECONDS = 30
#: num_undelivered_messages: "Sampled every 60 seconds. After sampling, data is not visible for up to
#: 120 seconds." So the newest visible sample may be 180 s old when KEDA asks.
SAMPLE_PERIOD_SECONDS = 60
SAMPLE_VISIBILITY_DELAY_SECONDS = 120
#: Range the query reads: always holds a published sample (period + delay), plus a polling interval
#: and as much again for clock skew, so an empty answer means the metric is missing, not late.
SAMPLE_RANGE_SECONDS = SAMPLE_PERIOD_SECONDS + SAMPLE_VISIBILITY_DELAY_SECONDS + 2 * POLLING_INTERVAL_SECONDS
#: Consecutive failed (or empty) queries before KEDA's fallback takes over.
FALLBACK_FAILURE_THRESHOLD = 3
