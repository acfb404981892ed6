"""The Pulumi program body: read stack config -> `ScalableAgentFleet` -> stack outputs.

`__main__.py` calls `main()`; `agentfleet plan` and the tests call it under Pulumi's mock
runtime, so the program they check is the program `pulumi up` runs.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime.config import get_config_env

from agentfleet.components.fleet import FleetArgs, ScalableAgentFleet
from agentfleet.components.validation import load_fleet_config, read_stack_keys


def stack_config() -> dict[str, Any]:
    """Every key of the stack's config as the engine handed it to the program."""
    return {**get_config_env(), **pulumi.runtime.config.CONFIG.get()}


def main() -> ScalableAgentFleet:
    cloud, raw = read_stack_keys(stack_config())
    config = load_fleet_config(cloud, raw)  # raises ConfigError naming every bad field
    assert cloud is not None
    fleet = ScalableAgentFleet(config.name, FleetArgs(cloud=cloud, config=config))
    for key, value in fleet.outputs().items():
        pulumi.export(key, value)
    return fleet
