"""The component provider other Pulumi languages use: which components, under which package name.

`plugin/__main__.py` (next to its PulumiPlugin.yaml) calls `serve()`; the tests call `schema()`,
which runs the same analyzer offline. The package is `agentfleet`, so the resource token is
`agentfleet:index:ScalableAgentFleet`, the same type the Python component registers.
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import pulumi
from pulumi.provider.experimental import component_provider_host
from pulumi.provider.experimental.component import ComponentProvider

from agentfleet.components.fleet import ScalableAgentFleet

#: The Pulumi package name: the first part of every resource token.
PACKAGE = "agentfleet"
#: The components other languages can construct. `FleetNetwork` is not among them: the analyzer
#: cannot refer from one component to another, so fleets share a network by its name instead.
COMPONENTS: list[type[pulumi.ComponentResource]] = [ScalableAgentFleet]


def package_version() -> str:
    """The installed agentfleet's version: the schema's, so a generated SDK names what it wraps."""
    try:
        return version("agentfleet")
    except PackageNotFoundError:
        return "0.0.0"


def schema() -> dict[str, Any]:
    """The package schema the provider serves, inferred by Pulumi's analyzer, without an engine."""
    served = ComponentProvider(COMPONENTS, PACKAGE, None, package_version()).schema
    assert served is not None  # the analyzer always yields one, or raises
    return dict(json.loads(served))


def serve() -> None:
    """Run the provider: Pulumi passes the engine's address as the first argument."""
    component_provider_host(COMPONENTS, PACKAGE, version=package_version())
