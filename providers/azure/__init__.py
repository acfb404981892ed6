"""Azure: Service Bus + a VM Scale Set; Storage Tables / Blob / Azure Managed Redis for state.

`TARGET` is this package's whole interface (providers/base.py); `fleet.py` shows how the config
becomes resources. Importing this module loads no cloud SDK: `build` does, when Azure is chosen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.schema import FleetConfig
from agentfleet.providers.azure import mocks, plan
from agentfleet.providers.azure.settings import REQUIRED_SETTINGS, AzureSettings, validate
from agentfleet.providers.base import FleetResources, Target, TargetMocks

if TYPE_CHECKING:
    import pulumi


def build(parent: pulumi.ComponentResource, config: FleetConfig, policy: ScalingPolicy) -> FleetResources:
    """Create the fleet's Azure resources under `parent`."""
    # Imported here, not at the top: the Azure SDK loads only for a stack that chose Azure.
    from agentfleet.providers.azure import fleet

    return fleet.build(parent, config, policy)


TARGET = Target(
    name="azure",
    settings=AzureSettings,
    validate=validate,
    required_settings=REQUIRED_SETTINGS,
    build=build,
    plan_settings=plan.KEY_SETTINGS,
    mocks=TargetMocks(mocks.resource_outputs, mocks.invoke, stand_ins=mocks.STAND_INS),
    simulation="agentfleet.providers.azure.simulation:model",
)
