"""Google Cloud: Pub/Sub + a GKE Deployment scaled by KEDA; Firestore / GCS / Memorystore for state.

`TARGET` is this package's whole interface (providers/base.py); `fleet.py` shows how the config
becomes resources. Importing this module loads no cloud SDK: `build` does, when Google Cloud is chosen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.schema import FleetConfig
from agentfleet.providers.base import FleetInputs, FleetResources, Target, TargetMocks
from agentfleet.providers.gcp import mocks, plan
from agentfleet.providers.gcp.settings import REQUIRED_SETTINGS, GcpSettings, validate

if TYPE_CHECKING:
    import pulumi


def build(
    parent: pulumi.ComponentResource,
    config: FleetConfig,
    policy: ScalingPolicy,
    *,
    shared: Any | None,
    inputs: FleetInputs,
) -> FleetResources:
    """Create the fleet's Google Cloud resources under `parent` (in `network`, or its own)."""
    # Imported here, not at the top: the SDK loads only for a stack that chose Google Cloud.
    from agentfleet.providers.gcp import fleet

    return fleet.build(parent, config, policy, shared=shared, inputs=inputs)


def build_shared(parent: pulumi.ComponentResource, config: FleetConfig, inputs: FleetInputs) -> Any:
    """Create what several fleets of one stack share, under `parent`."""
    from agentfleet.providers.gcp import shared

    return shared.build_shared(parent, config, inputs)


TARGET = Target(
    name="gcp",
    settings=GcpSettings,
    validate=validate,
    required_settings=REQUIRED_SETTINGS,
    build=build,
    build_shared=build_shared,
    plan_settings=plan.KEY_SETTINGS,
    mocks=TargetMocks(mocks.resource_outputs, mocks.invoke, stand_ins=mocks.STAND_INS),
    simulation="agentfleet.providers.gcp.simulation:model",
)
