"""The local fleet's scaling decision: a `ScalingPolicy` run the way the clouds' autoscalers run it.

Pure (no processes, no clock of its own), so the autoscaler loop (autoscaler.py) and the
simulator's local model run the same code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from agentfleet.components.policy import ScalingPolicy


@dataclass
class LocalAutoscaler:
    """Runs a `ScalingPolicy` the way the clouds' autoscalers do, for the local fleet.

    Scale-out is immediate (subject to the short scale-out cooldown); agents still warming up are
    counted as capacity on the way, so a burst does not start max_agents agents while the first
    few boot. Scale-in waits until `scale_in_cooldown_seconds` have passed since the last change
    *and* the backlog has called for fewer agents for that long, and then steps down to what is
    needed — the clouds' target tracking behaves the same way.
    """

    policy: ScalingPolicy
    last_scale_out: float = field(default=-math.inf)
    last_change: float = field(default=-math.inf)
    low_since: float | None = None

    def decide(self, now: float, waiting: int, in_flight: int, current: int) -> int:
        """The number of agents there should be now. `current` counts warming and ready agents."""
        p = self.policy
        desired = p.desired_agents(waiting, in_flight)
        if desired > current:
            self.low_since = None
            if current == 0 or now - self.last_scale_out >= p.scale_out_cooldown_seconds:
                self.last_scale_out = now
                self.last_change = now
                return desired
            return current
        if desired < current:
            if self.low_since is None:
                self.low_since = now
            quiet = min(now - self.low_since, now - self.last_change)
            if quiet >= p.scale_in_cooldown_seconds:
                self.last_change = now
                self.low_since = None
                return desired
            return current
        self.low_since = None
        return current
