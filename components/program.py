"""The Pulumi program body: read stack config -> `ScalableAgentFleet` -> stack outputs.

`__main__.py` calls `main()`; `agentfleet plan` and the tests call it under Pulumi's mock
runtime, so the program they check is the program `pulumi up` runs.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime.config import get_config_env

from agentfleet.components.fleet import FleetArgs, ScalableAgentFleet
from agentfleet.components.network import FleetNetwork
from agentfleet.components.validation import load_stack_fleets, shared_network_name


def stack_config() -> dict[str, Any]:
    """Every key of the stack's config as the engine handed it to the program."""
    return {**get_config_env(), **pulumi.runtime.config.CONFIG.get()}


def main() -> list[ScalableAgentFleet]:
    """One fleet (`agentfleet:fleet`): its outputs at the top level, its own network. Several
    (`agentfleet:fleets`): one shared `FleetNetwork` named by `agentfleet:network` ("shared"),
    built from the first fleet's network settings, and the outputs under `fleets.<name>`
    (agentfleet/ops reads both shapes)."""
    config = stack_config()
    cloud, configs = load_stack_fleets(config)  # ConfigError naming every bad field
    if "agentfleet:fleets" not in config:
        fleet = ScalableAgentFleet(configs[0].name, FleetArgs(cloud=cloud, config=configs[0]))
        fleets, exports = [fleet], fleet.outputs()
    else:
        network = FleetNetwork(shared_network_name(config, configs), cloud, configs[0])
        fleets = [
            ScalableAgentFleet(c.name, FleetArgs(cloud=cloud, config=c, network=network)) for c in configs
        ]
        exports = {
            "cloud": cloud,
            "fleets": {c.name: f.outputs() for c, f in zip(configs, fleets, strict=True)},
        }
    for key, value in exports.items():
        pulumi.export(key, value)
    return fleets
