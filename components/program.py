"""The Pulumi program body: read stack config -> `ScalableAgentFleet` -> stack outputs.

`__main__.py` calls `main()`; `agentfleet plan` and the tests call it under Pulumi's mock
runtime, so the program they check is the program `pulumi up` runs.
"""

from __future__ import annotations

import pulumi

from agentfleet.components.fleet import FleetArgs, ScalableAgentFleet
from agentfleet.components.validation import load_fleet_config


def main() -> ScalableAgentFleet:
    settings = pulumi.Config("agentfleet")
    cloud = settings.get("cloud")
    raw = settings.get_object("fleet")
    config = load_fleet_config(cloud, raw)  # raises ConfigError naming every bad field
    assert cloud is not None
    fleet = ScalableAgentFleet(config.name, FleetArgs(cloud=cloud, config=config))
    for key, value in fleet.outputs().items():
        pulumi.export(key, value)
    return fleet
