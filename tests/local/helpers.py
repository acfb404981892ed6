"""Helpers for the local fleet's end-to-end tests: tiny fleets (seconds, not minutes)."""

from __future__ import annotations

import copy
from typing import Any

from agentfleet.components.schema import FleetConfig
from agentfleet.components.validation import parse_fleet

TINY_FLEET: dict[str, Any] = {
    "name": "tiny-fleet",
    "agent": {
        "image": "ghcr.io/acme/inventory-agent:0.1.0",
        "handler": "agentfleet.local.sample_agent:handle",
        "concurrency": 2,
        "drain_timeout_seconds": 5,
        "env": {"INVENTORY_WORK_SECONDS": "0.05"},
    },
    "queue": {"visibility_timeout_seconds": 3, "max_receive_count": 5},
    "scaling": {
        "min_agents": 0,
        "max_agents": 3,
        "target_backlog_per_agent": 5,
        "warmup_seconds": 1,
        "scale_in_cooldown_seconds": 2,
    },
}


def tiny_config(**sections: dict[str, Any]) -> FleetConfig:
    """TINY_FLEET with some sections' keys overridden, validated by the real parse_fleet."""
    raw = copy.deepcopy(TINY_FLEET)
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return parse_fleet(raw)
