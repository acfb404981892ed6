"""How many agent pods fit on a GKE node, and so how many nodes the agent pool may have. No SDK.

One pod is one agent, asking for `AGENT_CPU_REQUEST_MILLI` and `AGENT_MEMORY_REQUEST_MIB`. A node of
a machine type offers its vCPUs and memory less GKE's reservations (kubelet, system daemons,
eviction threshold) and what GKE's own DaemonSets take. Pure arithmetic, so the pool bounds that
follow from the fleet size are tested without Pulumi, and settings.py can reject a machine type too
small for one agent before anything is registered.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

#: What one agent pod asks for. One pod is one agent; its concurrency runs inside these.
AGENT_CPU_REQUEST_MILLI = 250
AGENT_MEMORY_REQUEST_MIB = 512
AGENT_CPU_LIMIT_MILLI = 1000
AGENT_MEMORY_LIMIT_MIB = 1024

#: What GKE's own DaemonSets (kube-proxy, logging and metrics agents, CSI) take from every node.
DAEMONSET_CPU_MILLI = 300
DAEMONSET_MEMORY_MIB = 400

#: The Deployment's rolling update may run this share of its replicas on top of them (maxSurge).
MAX_SURGE_PERCENT = 25

_PREDEFINED = re.compile(r"^(?P<family>[a-z][a-z0-9]*)-(?P<kind>standard|highmem|highcpu)-(?P<cpus>[0-9]+)$")
_CUSTOM = re.compile(r"^(?:[a-z][a-z0-9]*-)?custom-(?P<cpus>[0-9]+)-(?P<mem>[0-9]+)$")
_SHARED_CORE_GIB = {"e2-micro": 1.0, "e2-small": 2.0, "e2-medium": 4.0, "f1-micro": 0.6, "g1-small": 1.7}


@dataclass(frozen=True)
class MachineShape:
    """vCPUs and memory of a machine type, as far as its name tells."""

    cpus: float
    memory_gib: float


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


def surge_pods(replicas: int) -> int:
    """Pods a rolling update adds on top of `replicas` at `MAX_SURGE_PERCENT`.

    Kubernetes: "Absolute number is calculated from percentage by rounding up."
    """
    return math.ceil(replicas * MAX_SURGE_PERCENT / 100)


def agent_pool_bounds(min_agents: int, max_agents: int, machine_type: str) -> tuple[int, int]:
    """The agent pool's min..max nodes, with room for a rollout's surge pods at max_agents.

    A rollout at full size starts `surge_pods(max_agents)` new pods before stopping any old one
    (maxUnavailable 0); if the pool's maximum only fits max_agents pods, they stay Pending and the
    rollout stalls. The extra nodes exist only while a rollout needs them: the cluster autoscaler
    removes them once the old pods are gone. (maxSurge 0 / maxUnavailable 1 would need no headroom,
    but takes the fleet below the size its backlog asked for, one warm-up per replaced pod.)
    """
    return node_bounds(min_agents, max_agents + surge_pods(max_agents), machine_type)


def agent_resources() -> dict[str, dict[str, str]]:
    """The Deployment's requests/limits, in Kubernetes quantity strings."""
    return {
        "requests": {"cpu": f"{AGENT_CPU_REQUEST_MILLI}m", "memory": f"{AGENT_MEMORY_REQUEST_MIB}Mi"},
        "limits": {"cpu": f"{AGENT_CPU_LIMIT_MILLI}m", "memory": f"{AGENT_MEMORY_LIMIT_MIB}Mi"},
    }
