"""`--chaos`: SIGKILL random agents while the fleet works, as spot reclaims and OOM kills do.

A killed agent gets no chance to drain: its leased messages come back when their leases expire,
and the supervisor replaces it. The report must still show 0 lost and 0 duplicate effects.
Chaos runs inside the fleet loop (one `maybe_strike` per tick), so it never races the supervisor.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from agentfleet.local.supervisor import AgentState, Supervisor


@dataclass
class Chaos:
    supervisor: Supervisor
    #: Seconds between two kills (on average: each gap is drawn from [0.5, 1.5] × this).
    every_seconds: float = 4.0
    rng: random.Random = field(default_factory=random.Random)
    kills: list[tuple[float, int]] = field(default_factory=list)
    _next_at: float | None = None

    def maybe_strike(self, now: float) -> int | None:
        """Kill one working agent if it is time; returns its id."""
        if self._next_at is None:
            self._next_at = now + self._gap()
        if now < self._next_at:
            return None
        self._next_at = now + self._gap()
        working = [a for a in self.supervisor.agents.values() if a.state is AgentState.READY]
        if not working:
            return None
        victim = self.rng.choice(working)
        self.supervisor.kill(victim)
        self.kills.append((now, victim.id))
        return victim.id

    def _gap(self) -> float:
        return self.every_seconds * self.rng.uniform(0.5, 1.5)
