from __future__ import annotations

from typing import Any

from agentfleet.components.schema import FleetConfig
from agentfleet.components.simulation import FleetView
from agentfleet.components.validation import parse_fleet


def fleet(**scaling: Any) -> FleetConfig:
    """A fleet with the given scaling keys (the rest at their documented defaults)."""
    return parse_fleet({"name": "simtest", "agent": {"image": "ghcr.io/acme/a:1"}, "scaling": scaling})


def view(t: float, capacity: int, waiting: int, in_flight: int = 0, ready: int | None = None) -> FleetView:
    """The fleet with `capacity` agents, all ready unless told otherwise."""
    r = capacity if ready is None else ready
    return FleetView(t=t, capacity=capacity, provisioning=0, warming=0, ready=r, draining=0,
                     waiting=waiting, in_flight=in_flight)  # fmt: skip


def drive(
    model: Any, seconds: int, capacity: int, backlog: Any, dt: float = 1.0
) -> list[tuple[float, int, int]]:
    """Step `model` each `dt` with backlog(t) waiting messages and every agent ready at once;
    returns the (t, before, after) of every capacity change."""
    changes = []
    t = 0.0
    while t < seconds:
        new = model.step(view(t, capacity, int(backlog(t))))
        if new != capacity:
            changes.append((t, capacity, new))
            capacity = new
        t += dt
    return changes
