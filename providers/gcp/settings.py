"""The `fleet.gcp` settings section and Google Cloud's own limits on a fleet config. Imports no SDK.

Runs before anything is registered (`load_fleet_config` calls `validate`), so every bad value is
reported in one message and nothing is half-created:

- Pub/Sub: ack deadline 10-600 s, dead-letter max delivery attempts 5-100, subscription message
  retention 10 minutes to 7 days.
- Kubernetes: the HPA that KEDA drives accepts a scale-down stabilisation window of at most one
  hour (`spec.behavior.scaleDown.stabilizationWindowSeconds <= 3600`, kedacore/keda#4976), and
  the fleet name becomes a namespace and service-account ids, which must end in a letter or digit.
- GKE: one agent must fit on one node of `gcp.machine_type`.
- Names: the fleet name starts the Pub/Sub topic and subscription ids (which must not start with
  "goog") and the bucket name (which must not start with "goog" nor contain "google"), and it is
  the Kubernetes namespace, which must not be one the cluster already has or KEDA's.

`Placement` (project and region) is here as a plain record; fleet.py reads it from the stack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from agentfleet.components.problems import ConfigProblem
from agentfleet.components.schema import FleetConfig, TargetSettings
from agentfleet.providers.gcp.sizing import AGENT_CPU_REQUEST_MILLI, AGENT_MEMORY_REQUEST_MIB, pods_per_node


class GcpSettings(TargetSettings):
    """GCP-only settings. Leave cluster unset to create a GKE cluster; network defaults to 'default'."""

    section: ClassVar[str] = "gcp"

    machine_type: str = "e2-standard-2"
    cluster: str | None = None
    network: str | None = None


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
#: Kubernetes validates `behavior.scaleDown.stabilizationWindowSeconds` to 0-3600.
HPA_MAX_STABILIZATION_SECONDS = 3600

_K8S_NAME_END = re.compile(r"[a-z0-9]$")
#: Namespace the program installs KEDA into (one KEDA per cluster: see scaling.py).
KEDA_NAMESPACE = "keda"
#: The KEDA operator's Kubernetes service account: the chart's `serviceAccount.operator.name` default.
KEDA_OPERATOR_KSA = "keda-operator"
#: Namespaces a GKE cluster already has, and KEDA's; the fleet's own namespace is created and
#: deleted with the stack, so it must not be one of them.
RESERVED_NAMESPACES = ("default", KEDA_NAMESPACE)
RESERVED_NAMESPACE_PREFIXES = ("kube-", "gke-")
_MACHINE_TYPE = re.compile(r"^[a-z][a-z0-9]*-[a-z0-9]+(-[0-9]+){0,2}$")
_CLUSTER_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")
_NETWORK = re.compile(
    r"^([a-z]([-a-z0-9]{0,61}[a-z0-9])?|projects/[^/]+/global/networks/[a-z]([-a-z0-9]{0,61}[a-z0-9])?)$"
)


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
    return problems


#: Provider settings a GCP stack cannot do without, checked before anything is registered.
REQUIRED_SETTINGS = {
    "gcp:project": "must be set to the Google Cloud project id",
    "gcp:region": "must be set to a Google Cloud region such as europe-west1",
}
