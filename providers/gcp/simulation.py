"""A model of the KEDA ScaledObject providers/gcp/scaling.py configures, for `agentfleet simulate`.

Pure (no SDK). Three loops in series:

1. Cloud Monitoring samples the subscription's num_undelivered_messages once a minute; a sample is
   readable `metric_delay_seconds` later. The trigger's PromQL takes the largest readable sample
   of the last `query_range_seconds` (max_over_time over settings.py SAMPLE_RANGE_SECONDS, 240 s,
   which always holds a published sample). An empty answer is an error (ignoreNullValues false):
   KEDA's fallback (currentReplicasIfHigher, replicas min_agents) and the HPA, which gets no
   value, keep the current replicas while the metric is missing.
2. KEDA polls the trigger every `pollingInterval` (30 s): at zero replicas a value >=
   scale_from_zero_threshold (activationThreshold + 1) scales the Deployment to 1; after
   `cooldownPeriod` (scale_in_cooldown_seconds) without activity it scales to 0.
3. The HPA syncs every 15 s: desired = ceil(value / target) (AverageValue), skipped within a
   10 % tolerance, limited by the configured behavior (scale-up: max_agents pods per
   scale_out_cooldown_seconds; scale-down: 100 % per minute after a stabilisation window of
   scale_in_cooldown_seconds: the highest recommendation of the window wins).

Pods that do not fit the node pool wait for the cluster autoscaler to add a node. A scale-down
removes pods by the ReplicaSet's ranking: pending pods, then the lowest pod-deletion-cost, which
busy agents raise; that only ranks, so when fewer pods are wanted than are busy, busy pods go too
(they drain up to the pod's grace period, drain timeout + margin, at most 600 s on GKE). Sources
in docs/simulate.md ("GKE").
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from agentfleet.agent.contract import PROTECTION_IDLE_GRACE_SECONDS
from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.schema import FleetConfig
from agentfleet.components.simulation import AgentLifecycle, FleetView, MetricSeries, action_counts
from agentfleet.providers.gcp.settings import (
    POLLING_INTERVAL_SECONDS,
    SAMPLE_PERIOD_SECONDS,
    SAMPLE_RANGE_SECONDS,
    SAMPLE_VISIBILITY_DELAY_SECONDS,
    GcpSettings,
)
from agentfleet.providers.gcp.sizing import node_bounds, pods_per_node

#: One HPA rate policy: ("Pods" | "Percent", value, periodSeconds).
RatePolicy = tuple[str, int, float]


@dataclass(frozen=True)
class HpaBehavior:
    """`behavior` of the HPA; `configured(policy)` is what scaling.py sets, `kubernetes_default()`
    what an HPA does without one."""

    up_policies: tuple[RatePolicy, ...]
    up_stabilisation_seconds: float
    down_policies: tuple[RatePolicy, ...]
    down_stabilisation_seconds: float

    @classmethod
    def configured(cls, policy: ScalingPolicy) -> HpaBehavior:
        return cls(
            up_policies=(("Pods", policy.max_agents, float(policy.scale_out_cooldown_seconds)),),
            up_stabilisation_seconds=0.0,
            down_policies=(("Percent", 100, float(policy.metric_period_seconds)),),
            down_stabilisation_seconds=float(policy.scale_in_cooldown_seconds),
        )

    @classmethod
    def kubernetes_default(cls) -> HpaBehavior:
        return cls(
            up_policies=(("Percent", 100, 15.0), ("Pods", 4, 15.0)),
            up_stabilisation_seconds=0.0,
            down_policies=(("Percent", 100, 15.0),),
            down_stabilisation_seconds=300.0,
        )


@dataclass(frozen=True)
class GcpTimings:
    """Seconds; sources in docs/simulate.md ("GKE")."""

    #: Pub/Sub metrics are sampled every 60 s; "after sampling, data is not visible for up to 120 s"
    #: (the worst case, which the trigger's range is sized for).
    metric_period_seconds: float = float(SAMPLE_PERIOD_SECONDS)
    metric_delay_seconds: float = float(SAMPLE_VISIBILITY_DELAY_SECONDS)
    #: The PromQL range, max_over_time over settings.py SAMPLE_RANGE_SECONDS (240 s).
    query_range_seconds: float = float(SAMPLE_RANGE_SECONDS)
    #: KEDA's pollingInterval (settings.py POLLING_INTERVAL_SECONDS).
    keda_polling_seconds: float = float(POLLING_INTERVAL_SECONDS)
    #: kube-controller-manager --horizontal-pod-autoscaler-sync-period.
    hpa_sync_seconds: float = 15.0
    hpa_tolerance: float = 0.1
    #: Pod on a node with room: scheduling, image pull, container start.
    pod_start_median_seconds: float = 20.0
    pod_start_sigma: float = 0.3
    #: Cluster autoscaler: scan interval, new node until Ready, scale-down-unneeded-time.
    ca_scan_seconds: float = 10.0
    node_boot_median_seconds: float = 90.0
    node_boot_sigma: float = 0.2
    node_unneeded_seconds: float = 600.0
    #: After the pod has drained, until its slot stops billing (container teardown).
    terminate_seconds: float = 5.0
    #: Busy pods raise their pod-deletion-cost (AGENTFLEET_PROTECTION=kubernetes-pod): a ReplicaSet
    #: scale-down takes idle pods first, but the cost only ranks, so this is False: when fewer pods
    #: are wanted than are busy, busy pods are removed too (and drain).
    protects_busy_agents: bool = False
    #: An agent stays protected this long after its last message (the runtime's idle grace,
    #: agent/contract.py), so a trickle does not flip it per message.
    protection_idle_grace_seconds: float = PROTECTION_IDLE_GRACE_SECONDS


@dataclass
class _RateLimit:
    """Replica changes in the last period, for the HPA's Pods / Percent policies."""

    changes: deque[tuple[float, int]] = field(default_factory=deque)

    def added_since(self, t: float) -> int:
        return sum(d for at, d in self.changes if at > t)


class GkeModel:
    def __init__(
        self,
        config: FleetConfig,
        policy: ScalingPolicy,
        timings: GcpTimings | None = None,
        behavior: HpaBehavior | None = None,
    ) -> None:
        tm = self.timings = timings or GcpTimings()
        self.policy = policy
        self.behavior = behavior or HpaBehavior.configured(policy)
        self.metric = MetricSeries(tm.metric_period_seconds, tm.metric_delay_seconds, stat="last")
        self.next_poll = 0.0
        self.next_sync = 0.0
        self.last_active = -math.inf
        self.recommendations: deque[tuple[float, int]] = deque()
        self.rate = _RateLimit()
        machine = config.settings_for(GcpSettings).machine_type
        self.per_node = max(1, pods_per_node(machine))
        self.min_nodes = node_bounds(policy.min_agents, policy.max_agents, machine)[0]
        self.nodes = self.min_nodes
        self.unneeded_since: float | None = None
        self.node_seconds = 0.0
        self.last_t = 0.0
        self.actions = {
            "keda-activate": 0,
            "keda-deactivate": 0,
            "hpa-up": 0,
            "hpa-down": 0,
            "nodes-added": 0,
            "metric-missing": 0,
        }
        self.lifecycle = AgentLifecycle.from_policy(
            policy,
            boot_median_seconds=tm.pod_start_median_seconds,
            boot_sigma=tm.pod_start_sigma,
            exit_seconds=tm.terminate_seconds,
            protects_busy_agents=tm.protects_busy_agents,
            protection_idle_grace_seconds=tm.protection_idle_grace_seconds,
            lease_seconds=float(config.queue.visibility_timeout_seconds),
        )

    # -- the metric KEDA reads ------------------------------------------------------------------
    def value(self, now: float) -> float | None:
        """The PromQL result: the largest readable sample of the last `query_range_seconds`; None
        when the range holds none (an empty answer: KEDA's error, so the fallback holds the fleet)."""
        tm = self.timings
        end = self.metric.count(now)
        points = self.metric.latest(now, int(tm.query_range_seconds // tm.metric_period_seconds) + 1)
        # The sample of period k is taken at the period's end, (k + 1) x period.
        stamps = [(end - len(points) + j + 1) * tm.metric_period_seconds for j in range(len(points))]
        inside = [v for v, at in zip(points, stamps, strict=True) if at >= now - tm.query_range_seconds]
        return max(inside) if inside else None

    # -- the HPA's arithmetic -------------------------------------------------------------------
    def hpa_desired(self, now: float, value: float, current: int) -> int:
        p, b, tm = self.policy, self.behavior, self.timings
        target = p.target_backlog_per_agent
        raw = current
        if current > 0 and abs(value / (target * current) - 1) > tm.hpa_tolerance:
            raw = math.ceil(value / target)
        raw = max(1, min(p.max_agents, raw))
        self.recommendations.append((now, raw))
        window = max(b.down_stabilisation_seconds, b.up_stabilisation_seconds)
        while self.recommendations and self.recommendations[0][0] < now - window:
            self.recommendations.popleft()
        down_floor = max(r for at, r in self.recommendations if at >= now - b.down_stabilisation_seconds)
        up_ceiling = min(r for at, r in self.recommendations if at >= now - b.up_stabilisation_seconds)
        desired = current
        if raw > current:
            desired = min(up_ceiling, self._limit(now, current, b.up_policies, up=True))
        elif raw < current:
            desired = max(down_floor, self._limit(now, current, b.down_policies, up=False))
            desired = min(desired, current)
        return max(1, min(p.max_agents, desired))

    def _limit(self, now: float, current: int, policies: tuple[RatePolicy, ...], up: bool) -> int:
        limits = []
        for kind, value, period in policies:
            start = current - self.rate.added_since(now - period)
            if kind == "Pods":
                limits.append(start + value if up else start - value)
            else:
                limits.append(
                    math.ceil(start * (1 + value / 100)) if up else math.ceil(start * (1 - value / 100))
                )
        return max(limits) if up else min(limits)  # selectPolicy Max: the policy allowing most change

    # -- the model ------------------------------------------------------------------------------
    def step(self, view: FleetView) -> int:
        tm, p = self.timings, self.policy
        # num_undelivered_messages: waiting and leased-but-unacked messages alike.
        self.metric.record(view.t, view.waiting + view.in_flight)
        self._nodes(view)
        current = view.capacity
        desired = current
        if view.t + 1e-9 >= self.next_poll:
            self.next_poll = view.t + tm.keda_polling_seconds
            value = self.value(view.t)
            if value is None:
                # KEDA's fallback (currentReplicasIfHigher, replicas min_agents) holds the current
                # replicas; the HPA, which gets no value either, does not scale.
                self.actions["metric-missing"] += 1
                return current
            if value >= p.scale_from_zero_threshold:
                self.last_active = view.t
                if current == 0:
                    self.actions["keda-activate"] += 1
                    desired = max(1, p.min_agents)
            elif (
                p.scales_to_zero and current > 0 and view.t - self.last_active >= p.scale_in_cooldown_seconds
            ):
                self.actions["keda-deactivate"] += 1
                desired = 0
                self.recommendations.clear()
        if desired == current and current > 0 and view.t + 1e-9 >= self.next_sync:
            self.next_sync = view.t + tm.hpa_sync_seconds
            value = self.value(view.t)
            desired = current if value is None else self.hpa_desired(view.t, value, current)
            if desired != current:
                self.actions["hpa-up" if desired > current else "hpa-down"] += 1
        if desired != current:
            self.rate.changes.append((view.t, desired - current))
            while self.rate.changes and self.rate.changes[0][0] < view.t - 3600:
                self.rate.changes.popleft()
        return desired

    def _nodes(self, view: FleetView) -> None:
        tm = self.timings
        self.node_seconds += self.nodes * (view.t - self.last_t)
        self.last_t = view.t
        needed = max(self.min_nodes, math.ceil((view.active + view.draining) / self.per_node))
        if self.nodes > needed:
            if self.unneeded_since is None:
                self.unneeded_since = view.t
            elif view.t - self.unneeded_since >= tm.node_unneeded_seconds:
                self.nodes = needed
                self.unneeded_since = None
        else:
            self.unneeded_since = None

    def boot_seconds(self, view: FleetView, rng: np.random.Generator, n: int) -> np.ndarray:
        """Pods that fit on the nodes start in pod-start time; the rest wait for new nodes."""
        tm = self.timings
        free = max(0, self.nodes * self.per_node - (view.active + view.draining))
        times = self.lifecycle.boot_seconds(rng, n)
        rest = n - min(n, free)
        if rest:
            added = math.ceil(rest / self.per_node)
            self.nodes += added
            self.actions["nodes-added"] += added
            node = tm.node_boot_median_seconds * rng.lognormal(0.0, tm.node_boot_sigma, added)
            times[n - rest :] += tm.ca_scan_seconds + np.repeat(node, self.per_node)[:rest]
        return times

    def extra(self) -> dict[str, float]:
        out = action_counts(self.actions)
        out["node_hours"] = self.node_seconds / 3600
        out["pods_per_node"] = float(self.per_node)
        return out


def model(config: FleetConfig, policy: ScalingPolicy) -> GkeModel:
    return GkeModel(config, policy)
