"""What the simulator (`agentfleet simulate`) and a target's autoscaling model say to each other.

A target's model (`providers/<target>/simulation.py`) is a pure function of time: each tick the
simulator hands it the fleet as it truly is (`FleetView`), and it answers with the capacity its
cloud's control loop would have set by then. Everything the cloud does between the truth and
the decision (metric publication delays, alarm datapoints, polling, cooldowns) lives inside the
model; everything the agents do (boot, warm-up, leases, drain) lives in the simulator, timed by
the model's `AgentLifecycle`.

Neutral: this module names no cloud. Models are configured from the same `FleetConfig` and
`ScalingPolicy` that `pulumi up` deploys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.schema import FleetConfig


@dataclass(frozen=True)
class FleetView:
    """The fleet at one instant, as it truly is (a model adds its own cloud's lag).

    capacity:     the group's desired capacity, as last set by the model (draining agents excluded)
    provisioning: agents requested, not running yet (VM booting, pod scheduling/pulling)
    warming:      running and taking work, not yet counted as capacity (inside the warm-up)
    ready:        running, counted
    draining:     told to stop; finishing in-flight work
    waiting:      messages visible in the queue
    in_flight:    messages leased by an agent (including leases of agents that were killed)
    """

    t: float
    capacity: int
    provisioning: int
    warming: int
    ready: int
    draining: int
    waiting: int
    in_flight: int

    @property
    def active(self) -> int:
        """Agents that are or will be capacity: what a scale-in may pick from."""
        return self.provisioning + self.warming + self.ready


@dataclass(frozen=True)
class AgentLifecycle:
    """How an agent lives on one target; every duration in seconds.

    boot_median_seconds / boot_sigma: request -> agent process consuming, a lognormal distribution
        (sigma 0 = always the median). On a VM: launch, OS boot, container runtime, image pull.
    warmup_seconds:        consuming but not counted as capacity by the autoscaler
    message_overhead_seconds: per message, beyond the handler's own time (receive, ack)
    exit_seconds:          from the end of the drain until billing stops (instance termination)
    drain_timeout_seconds: a draining agent still busy after this is killed; its messages come
        back when their lease expires
    protects_busy_agents:  scale-in never picks an agent that has work in flight (scale-in
        protection / pod deletion cost); it waits until the agent is idle
    lease_seconds:         the visibility timeout / lock / ack deadline of a leased message
    protection_idle_grace_seconds: an agent stays protected (or ranked last) this long after its
        last message, before a scale-in may pick it (the runtime's idle grace, agent/protection)
    fewest_agents:         the target keeps at least this many agents whatever min_agents says
        (a platform whose autoscaler cannot start from zero); the simulator starts the fleet
        there and never goes below
    """

    boot_median_seconds: float
    boot_sigma: float
    warmup_seconds: float
    exit_seconds: float
    drain_timeout_seconds: float
    protects_busy_agents: bool
    lease_seconds: float
    message_overhead_seconds: float = 0.0
    protection_idle_grace_seconds: float = 0.0
    fewest_agents: int = 0

    @classmethod
    def from_policy(
        cls,
        policy: ScalingPolicy,
        *,
        boot_median_seconds: float,
        boot_sigma: float,
        exit_seconds: float,
        protects_busy_agents: bool,
        lease_seconds: float,
        message_overhead_seconds: float = 0.0,
        protection_idle_grace_seconds: float = 0.0,
        fewest_agents: int = 0,
    ) -> AgentLifecycle:
        """The target's timings, with the warm-up and drain timeout the policy deploys."""
        return cls(
            boot_median_seconds=boot_median_seconds,
            boot_sigma=boot_sigma,
            warmup_seconds=float(policy.warmup_seconds),
            exit_seconds=exit_seconds,
            drain_timeout_seconds=float(policy.shutdown_grace_seconds),
            protects_busy_agents=protects_busy_agents,
            lease_seconds=lease_seconds,
            message_overhead_seconds=message_overhead_seconds,
            protection_idle_grace_seconds=protection_idle_grace_seconds,
            fewest_agents=fewest_agents,
        )

    def boot_seconds(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Boot times of `n` new agents."""
        if self.boot_sigma <= 0:
            return np.full(n, self.boot_median_seconds)
        return self.boot_median_seconds * rng.lognormal(0.0, self.boot_sigma, n)


class AutoscalerModel(Protocol):
    """One target's control loop. `step` is called every simulator tick, in time order."""

    lifecycle: AgentLifecycle

    def step(self, view: FleetView) -> int:
        """The desired capacity after this tick (return `view.capacity` for no change)."""
        ...

    def boot_seconds(self, view: FleetView, rng: np.random.Generator, n: int) -> np.ndarray:
        """Boot times of `n` agents requested now (a model may add node provisioning, say)."""
        ...

    def extra(self) -> dict[str, float]:
        """Figures only this model knows (node-hours, scale actions by rule), for the report."""
        ...


#: What a target registers: builds its model from the deployed config and policy.
ModelFactory = Callable[[FleetConfig, ScalingPolicy], AutoscalerModel]


class LifecycleBoot:
    """Mixin for models whose agents boot per `lifecycle` alone and that report nothing extra."""

    lifecycle: AgentLifecycle

    def boot_seconds(self, view: FleetView, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.lifecycle.boot_seconds(rng, n)

    def extra(self) -> dict[str, float]:
        return {}


def action_counts(actions: dict[str, int]) -> dict[str, float]:
    """A model's scale actions by rule, as `extra()` figures (`actions.<rule>`)."""
    return {f"actions.{rule}": float(n) for rule, n in actions.items()}


@dataclass
class MetricSeries:
    """A metric as a monitoring service publishes it: one datapoint per `period` seconds, each
    readable `delay` seconds after its period ends.

    Models feed it the true value every tick (`record`) and read only what was published
    (`published(now)`): the datapoint of period k covers [k*period, (k+1)*period) and uses the
    statistic `stat` ("last" = the value at the sample instant, the end of the period; "max";
    "mean").
    """

    period: float
    delay: float
    stat: str = "last"

    def __post_init__(self) -> None:
        self._points: list[float] = []
        self._current: int = -1
        self._acc: list[float] = []

    def record(self, t: float, value: float) -> None:
        k = int(t // self.period)
        if k != self._current:
            if self._current >= 0:
                self._close()
            # Periods with no sample at all (a model asleep) repeat the last value.
            while len(self._points) < k:
                self._points.append(self._points[-1] if self._points else 0.0)
            self._current = k
            self._acc = []
        self._acc.append(value)

    def _close(self) -> None:
        acc = self._acc or [0.0]
        if self.stat == "max":
            v = max(acc)
        elif self.stat == "mean":
            v = sum(acc) / len(acc)
        else:
            v = acc[-1]
        self._points.append(v)

    def count(self, now: float) -> int:
        """How many datapoints are readable at `now` (a period is readable `delay` after it ends)."""
        n = int((now - self.delay) // self.period)
        return max(0, min(n, len(self._points)))

    def latest(self, now: float, n: int) -> list[float]:
        """The newest `n` datapoints readable at `now`, oldest first (fewer if fewer exist)."""
        end = self.count(now)
        return self._points[max(0, end - n) : end]
