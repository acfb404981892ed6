"""`--chaos`: SIGKILL agents that hold work while the fleet works, as spot reclaims and OOM kills do.

A killed agent gets no chance to drain: its leased messages come back when their leases expire,
and the supervisor replaces it. The report must still show 0 lost and 0 duplicate effects.

Chaos strikes on what it observes, not on a clock: a victim is a ready agent whose /metrics shows
handlers in flight (`agentfleet_messages_in_flight` > 0), so every kill costs the fleet leased
work, and the first kill comes the first time any agent is seen holding work — however slowly the
machine runs, a burst cannot finish before chaos has struck. After a kill the next waits a gap
(`every_seconds`, drawn from [0.5, 1.5] × it) and, again, an agent that holds work.
Chaos runs inside the fleet loop (one `maybe_strike` per tick), so it never races the supervisor.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from agentfleet.local.supervisor import Agent, AgentState, Supervisor, scrape


@dataclass
class Chaos:
    supervisor: Supervisor
    #: Seconds between two kills (on average: each gap is drawn from [0.5, 1.5] × this).
    every_seconds: float = 4.0
    rng: random.Random = field(default_factory=random.Random)
    kills: list[tuple[float, int]] = field(default_factory=list)
    #: Seconds to wait for one agent's /metrics.
    scrape_timeout: float = 2.0
    _next_at: float = float("-inf")

    def maybe_strike(self, now: float) -> int | None:
        """Kill one agent that holds work, if the gap since the last kill is over; returns its id."""
        if now < self._next_at:
            return None
        ready = [a for a in self.supervisor.agents.values() if a.state is AgentState.READY]
        working = [a for a in ready if _holds_work(a, self.scrape_timeout)]
        if not working:
            return None
        victim = self.rng.choice(working)
        self.supervisor.kill(victim)
        self.kills.append((now, victim.id))
        self._next_at = now + self.every_seconds * self.rng.uniform(0.5, 1.5)
        return victim.id


def _holds_work(agent: Agent, timeout: float) -> bool:
    """Whether `agent`'s /metrics shows handlers running (the supervisor's own reading of it)."""
    metrics = scrape(agent.port, timeout)
    return metrics is not None and metrics.in_flight > 0
