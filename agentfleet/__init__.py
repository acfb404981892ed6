"""agentfleet: elastic, queue-driven agent fleets on AWS, Azure or GCP from one config.

Public entry points:

    from agentfleet import ScalableAgentFleet, FleetArgs     # the Pulumi component (extra: infra)
    from agentfleet import ScalableAgentFleetArgs            # its arguments as a dict of Inputs
    from agentfleet.agent import PermanentError, Context     # inside a handler (the runtime)

The component is loaded on first use, so the runtime inside an agent image never needs Pulumi.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentfleet.components.fleet import FleetArgs, ScalableAgentFleet, ScalableAgentFleetArgs

__all__ = ["FleetArgs", "ScalableAgentFleet", "ScalableAgentFleetArgs"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from agentfleet.components import fleet  # loads pulumi: only when the component is asked for

        return getattr(fleet, name)
    raise AttributeError(f"module 'agentfleet' has no attribute {name!r}")
