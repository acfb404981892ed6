"""What `agentfleet status` and `agentfleet local status` show: one collector, one renderer.

Counts and agents come from the fleet's `QueueAdmin`; the last dead-letter reasons from a peek at
the dead-letter queue (newest first, each reason once). A value the cloud cannot tell is None and
shows as "n/a", never as 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

from agentfleet.agent.backends.admin import AgentCounts, QueueAdmin, QueueCounts

#: How many dead letters a status looks at for reasons, and how many distinct reasons it shows.
PEEK_FOR_REASONS = 20
REASONS_SHOWN = 5


@dataclass(frozen=True)
class FleetStatus:
    fleet: str
    cloud: str
    counts: QueueCounts
    agents: AgentCounts
    dead_letter_reasons: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "fleet": self.fleet,
            "cloud": self.cloud,
            "waiting": self.counts.waiting,
            "in_flight": self.counts.in_flight,
            "dead_lettered": self.counts.dead_lettered,
            "oldest_message_age_seconds": self.counts.oldest_age_seconds,
            "agents_desired": self.agents.desired,
            "agents_in_service": self.agents.in_service,
            "agents_busy": self.agents.busy,
            "dead_letter_reasons": self.dead_letter_reasons,
        }

    def table(self, title: str | None = None) -> Table:
        table = Table(title=title or f"fleet {self.fleet} · {self.cloud}", show_header=False)
        table.add_row("waiting", _n(self.counts.waiting))
        table.add_row("in flight", _n(self.counts.in_flight))
        table.add_row("dead-lettered", _n(self.counts.dead_lettered))
        age = self.counts.oldest_age_seconds
        table.add_row("oldest message", "n/a" if age is None else f"{age:,.0f} s")
        if self.agents != AgentCounts():
            table.add_row(
                "agents",
                f"{_n(self.agents.desired)} desired / {_n(self.agents.in_service)} in service / "
                f"{_n(self.agents.busy)} busy",
            )
        for reason in self.dead_letter_reasons:
            table.add_row("dead-letter reason", reason)
        return table


def _n(value: int | None) -> str:
    return "n/a" if value is None else f"{value:,}"


def last_reasons(admin: QueueAdmin, limit: int = REASONS_SHOWN) -> list[str]:
    """Distinct reasons of the newest dead letters, newest first."""
    letters = admin.peek_dead_letters(PEEK_FOR_REASONS)
    letters.sort(key=lambda m: m.enqueued_at or 0.0, reverse=True)
    reasons: list[str] = []
    for letter in letters:
        reason = letter.reason.splitlines()[0] if letter.reason else "unspecified"
        if reason not in reasons:
            reasons.append(reason)
    return reasons[:limit]


def collect(admin: QueueAdmin, fleet: str, cloud: str) -> FleetStatus:
    counts = admin.counts()
    reasons = last_reasons(admin) if counts.dead_lettered != 0 else []
    return FleetStatus(fleet, cloud, counts, admin.agents(), reasons)
