"""One package per cloud. Each translates a `FleetConfig` + `ScalingPolicy` into resources.

A provider package exposes two things:

- `limits.validate(config) -> list[ConfigProblem]`: the cloud's own limits, no SDK imported;
- `fleet.build(parent, config, policy) -> FleetResources`: creates the resources, parented to
  the `ScalableAgentFleet` component. Only this import pulls in the cloud's Pulumi SDK.

`mocks.py` in each package answers Pulumi's mock runtime with realistic computed outputs
(ARNs, URLs, ids) so `agentfleet plan` and the tests can run the real program offline.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import pulumi

    from components.config import ConfigProblem, FleetConfig
    from components.fleet import FleetResources
    from components.policy import ScalingPolicy


class BuildFleet(Protocol):
    def __call__(
        self, parent: pulumi.ComponentResource, config: FleetConfig, policy: ScalingPolicy
    ) -> FleetResources: ...


def cloud_limits(cloud: str) -> Callable[[FleetConfig], list[ConfigProblem]]:
    """The chosen cloud's validation function; imports no cloud SDK."""
    module = importlib.import_module(f"providers.{cloud}.limits")
    validate: Callable[[FleetConfig], list[ConfigProblem]] = module.validate
    return validate


def required_settings(cloud: str) -> dict[str, str]:
    """Provider config keys the cloud cannot do without (`gcp:project`), with the message if missing.

    Declared as `REQUIRED_SETTINGS` in `providers/<cloud>/limits.py`; checked with the fleet config,
    before the component registers anything.
    """
    module = importlib.import_module(f"providers.{cloud}.limits")
    return dict(getattr(module, "REQUIRED_SETTINGS", {}))


def cloud_builder(cloud: str) -> BuildFleet:
    """The chosen cloud's `build`; this is where (and only where) its SDK gets imported."""
    module = importlib.import_module(f"providers.{cloud}.fleet")
    build: BuildFleet = module.build
    return build
