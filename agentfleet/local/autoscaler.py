"""The local autoscaler: the shared scaling policy, run against the SQLite queue's real counts.

Each tick reads the backend's `stats()` (waiting, in flight, dead-lettered), asks
`LocalAutoscaler.decide` (local/scaling.py), built from the same `ScalingPolicy` the clouds' resources
are generated from — how many agents there should be, and tells the supervisor. Every tick is
recorded as a `Sample`, which the live view, the report and the chart all read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agentfleet.agent.backends.base import QueueStats
from agentfleet.local.scaling import LocalAutoscaler
from agentfleet.local.supervisor import Supervisor


@dataclass(frozen=True)
class Sample:
    """The fleet at one tick. `t` is seconds since the loop started."""

    t: float
    waiting: int
    in_flight: int
    dead_lettered: int
    warming: int
    ready: int
    draining: int
    desired: int
    #: Messages succeeded so far, fleet-wide, from the agents' /metrics.
    processed: float = 0.0
    #: Warming or ready agents protected from scale-in (busy).
    protected: int = 0

    @property
    def backlog(self) -> int:
        return self.waiting + self.in_flight

    @property
    def agents(self) -> int:
        return self.warming + self.ready + self.draining


@dataclass
class AutoscalerLoop:
    """Ticks: read the queue, decide with the policy, scale, record."""

    supervisor: Supervisor
    stats: Callable[[], QueueStats]
    interval: float = 0.5
    clock: Callable[[], float] = time.monotonic
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.scaler = LocalAutoscaler(self.supervisor.policy)
        self.started_at = self.clock()

    def tick(self) -> Sample:
        self.supervisor.poll()
        s = self.stats()
        now = self.clock()
        # Like a cloud autoscaler, it compares against the desired capacity it set, not against the
        # agents alive: busy agents held back from a scale-in do not make it decide again.
        desired = self.scaler.decide(now, s.waiting, s.in_flight, self.supervisor.desired_capacity)
        self.supervisor.scale_to(desired)
        counts = self.supervisor.counts()
        sample = Sample(
            t=now - self.started_at,
            waiting=s.waiting,
            in_flight=s.in_flight,
            dead_lettered=s.dead_lettered or 0,
            warming=counts.warming,
            ready=counts.ready,
            draining=counts.draining,
            desired=desired,
            processed=self.supervisor.processed(),
            protected=counts.protected,
        )
        self.samples.append(sample)
        return sample

    def run(
        self, until: Callable[[Sample], bool], timeout: float, on_tick: Callable[[Sample], None] | None = None
    ) -> bool:
        """Tick until `until(sample)` is true (returns True) or `timeout` seconds pass (False)."""
        deadline = self.clock() + timeout
        while True:
            started = self.clock()
            sample = self.tick()
            if on_tick is not None:
                on_tick(sample)
            if until(sample):
                return True
            if self.clock() >= deadline:
                return False
            time.sleep(max(0.0, self.interval - (self.clock() - started)))

    def throughput(self, window: float = 5.0) -> float:
        """Messages per second over the last `window` seconds of samples."""
        if len(self.samples) < 2:
            return 0.0
        last = self.samples[-1]
        first = next((s for s in self.samples if s.t >= last.t - window), self.samples[0])
        if last.t <= first.t:
            return 0.0
        return max(0.0, (last.processed - first.processed) / (last.t - first.t))

    def elapsed(self) -> float:
        return self.clock() - self.started_at
