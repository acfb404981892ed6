"""Google Cloud's own limits on a fleet config, and the GCP numbers derived from it. Imports no SDK.

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

The sizing helpers (`agent_resources`, `pods_per_node`, `node_bounds`) live here too, so the node
pool bounds that follow from the fleet size can be tested without any SDK.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import ClassVar

from agentfleet.components.problems import ConfigProblem
from agentfleet.components.schema import FleetConfig, TargetSettings


class GcpSettings(TargetSettings):
    """GCP-only settings. Leave cluster unset to create a GKE cluster; network defaults to 'default'."""

    section: ClassVar[str] = "gcp"

    machine_type: str = "e2-standard-2"
    cluster: str | None = None
    network: str | None = None


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

#: What one agent pod asks for. One pod is one agent; its concurrency runs inside these.
AGENT_CPU_REQUEST_MILLI = 250
AGENT_MEMORY_REQUEST_MIB = 512
AGENT_CPU_LIMIT_MILLI = 1000
AGENT_MEMORY_LIMIT_MIB = 1024

#: What GKE's own DaemonSets (kube-proxy, logging and metrics agents, CSI) take from every node.
DAEMONSET_CPU_MILLI = 300
DAEMONSET_MEMORY_MIB = 400

_K8S_NAME_END = re.compile(r"[a-z0-9]$")
#: Namespaces a GKE cluster already has, and KEDA's (settings.KEDA_NAMESPACE); the fleet's own
#: namespace is created and deleted with the stack, so it must not be one of them.
RESERVED_NAMESPACES = ("default", "keda")
RESERVED_NAMESPACE_PREFIXES = ("kube-", "gke-")
_MACHINE_TYPE = re.compile(r"^[a-z][a-z0-9]*-[a-z0-9]+(-[0-9]+){0,2}$")
_PREDEFINED = re.compile(r"^(?P<family>[a-z][a-z0-9]*)-(?P<kind>standard|highmem|highcpu)-(?P<cpus>[0-9]+)$")
_CUSTOM = re.compile(r"^(?:[a-z][a-z0-9]*-)?custom-(?P<cpus>[0-9]+)-(?P<mem>[0-9]+)$")
_SHARED_CORE_GIB = {"e2-micro": 1.0, "e2-small": 2.0, "e2-medium": 4.0, "f1-micro": 0.6, "g1-small": 1.7}
_CLUSTER_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")
_NETWORK = re.compile(
    r"^([a-z]([-a-z0-9]{0,61}[a-z0-9])?|projects/[^/]+/global/networks/[a-z]([-a-z0-9]{0,61}[a-z0-9])?)$"
)


@dataclass(frozen=True)
class MachineShape:
    """vCPUs and memory of a machine type, as far as its name tells."""

    cpus: float
    memory_gib: float


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


def retry_backoff_seconds(config: FleetConfig) -> tuple[int, int]:
    """Pub/Sub redelivery backoff: start at 10 s, grow up to the ack deadline (at most 600 s).

    A message nacked (or whose lease lapsed) comes back no later than one lease later, so a
    failing message is retried at the pace the fleet already tolerates for a stuck one.
    """
    upper = min(
        RETRY_MAX_BACKOFF_SECONDS, max(RETRY_MIN_BACKOFF_SECONDS, config.queue.visibility_timeout_seconds)
    )
    return RETRY_MIN_BACKOFF_SECONDS, upper


def oldest_message_alert_seconds(config: FleetConfig) -> int:
    """Alert when the oldest unacked message is older than warm-up plus three leases (min 5 min).

    By then a new agent has had time to start and the message has had three chances to be
    worked; older means the fleet is stuck or capped at max_agents.
    """
    return max(300, config.scaling.warmup_seconds + 3 * config.queue.visibility_timeout_seconds)


def machine_shape(machine_type: str) -> MachineShape | None:
    """vCPUs and memory from a machine type's name; None for names that do not say."""
    if machine_type in _SHARED_CORE_GIB:
        # Shared-core types: GKE counts them as one vCPU's worth of allocatable CPU.
        return MachineShape(cpus=1.0, memory_gib=_SHARED_CORE_GIB[machine_type])
    m = _PREDEFINED.match(machine_type)
    if m:
        cpus = int(m.group("cpus"))
        n1 = m.group("family") == "n1"
        per_cpu = {
            "standard": 3.75 if n1 else 4.0,
            "highmem": 6.5 if n1 else 8.0,
            "highcpu": 0.9 if n1 else 1.0,
        }
        return MachineShape(cpus=float(cpus), memory_gib=cpus * per_cpu[m.group("kind")])
    m = _CUSTOM.match(machine_type)
    if m:
        return MachineShape(cpus=float(m.group("cpus")), memory_gib=int(m.group("mem")) / 1024)
    return None


def _reserved_cpu_milli(cpus: float) -> float:
    """GKE's CPU reservation: 6% of the first core, 1% of the next, 0.5% of the next 2, 0.25% above."""
    milli = cpus * 1000
    tiers = [(1000, 0.06), (1000, 0.01), (2000, 0.005), (math.inf, 0.0025)]
    reserved, left = 0.0, milli
    for size, rate in tiers:
        take = min(left, size)
        reserved += take * rate
        left -= take
    return reserved


def _reserved_memory_mib(memory_gib: float) -> float:
    """GKE's memory reservation (25/20/10/6/2 % tiers) plus the 100 MiB eviction threshold."""
    mib = memory_gib * 1024
    if mib < 1024:
        return 255 + 100
    tiers = [(4096, 0.25), (4096, 0.20), (8192, 0.10), (114_688, 0.06), (math.inf, 0.02)]
    reserved, left = 0.0, mib
    for size, rate in tiers:
        take = min(left, size)
        reserved += take * rate
        left -= take
    return reserved + 100


def pods_per_node(machine_type: str) -> int:
    """How many agent pods fit on one node of `machine_type` after GKE's reservations.

    Unknown machine-type names count as one pod per node: the node pool's upper bound is then
    max_agents nodes, which is never too few.
    """
    shape = machine_shape(machine_type)
    if shape is None:
        return 1
    cpu = shape.cpus * 1000 - _reserved_cpu_milli(shape.cpus) - DAEMONSET_CPU_MILLI
    mem = shape.memory_gib * 1024 - _reserved_memory_mib(shape.memory_gib) - DAEMONSET_MEMORY_MIB
    return max(0, min(int(cpu // AGENT_CPU_REQUEST_MILLI), int(mem // AGENT_MEMORY_REQUEST_MIB)))


def node_bounds(min_agents: int, max_agents: int, machine_type: str) -> tuple[int, int]:
    """The agent node pool's total min..max nodes: just enough nodes for min..max agent pods."""
    per_node = max(1, pods_per_node(machine_type))
    return math.ceil(min_agents / per_node), max(1, math.ceil(max_agents / per_node))


def agent_resources() -> dict[str, dict[str, str]]:
    """The Deployment's requests/limits, in Kubernetes quantity strings."""
    return {
        "requests": {"cpu": f"{AGENT_CPU_REQUEST_MILLI}m", "memory": f"{AGENT_MEMORY_REQUEST_MIB}Mi"},
        "limits": {"cpu": f"{AGENT_CPU_LIMIT_MILLI}m", "memory": f"{AGENT_MEMORY_LIMIT_MIB}Mi"},
    }


#: Provider settings a GCP stack cannot do without, checked before anything is registered.
REQUIRED_SETTINGS = {
    "gcp:project": "must be set to the Google Cloud project id",
    "gcp:region": "must be set to a Google Cloud region such as europe-west1",
}
