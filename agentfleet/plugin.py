"""The component provider other Pulumi languages use: which components, under which package name.

`plugin/__main__.py` (next to its PulumiPlugin.yaml) calls `serve()`; the tests call `schema()`,
which runs the same analyzer offline. The package is `agentfleet`, so the resource token is
`agentfleet:index:ScalableAgentFleet`, the same type the Python component registers.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import pulumi
from pulumi.errors import InputPropertiesError
from pulumi.provider import ConstructResult, main
from pulumi.provider.experimental import host
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.server import ComponentInitError

from agentfleet.components.fleet import ScalableAgentFleet
from agentfleet.components.problems import ConfigError

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


class FleetProvider(ComponentProvider):
    """Pulumi's component provider for `COMPONENTS`, reporting a bad config as the engine's own
    input-property errors, one line per field, instead of an exception with a Python traceback."""

    def __init__(self) -> None:
        super().__init__(COMPONENTS, PACKAGE, None, package_version())

    def construct(
        self,
        name: str,
        resource_type: str,
        inputs: pulumi.Inputs,
        options: pulumi.ResourceOptions | None = None,
    ) -> ConstructResult:
        try:
            return super().construct(name, resource_type, inputs, options)
        except ComponentInitError as exc:
            inner = exc.inner if isinstance(exc.inner, ConfigError) else None
            if inner is None:
                raise
            raise InputPropertiesError(
                str(inner), [{"property_path": p.field, "reason": str(p)} for p in inner.problems]
            ) from None


def schema() -> dict[str, Any]:
    """The package schema the provider serves, inferred by Pulumi's analyzer, without an engine."""
    served = FleetProvider().schema
    assert served is not None  # the analyzer always yields one, or raises
    return dict(json.loads(served))


def serve() -> None:
    """Run the provider as `component_provider_host` does, with `FleetProvider`: Pulumi passes
    the engine's address as the first argument."""
    # Read by components/network.py `program_key`: one provider process serves one deployment.
    host.is_hosting = True
    main(FleetProvider(), sys.argv[1:])
