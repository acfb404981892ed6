"""Azure: Service Bus + a VM Scale Set; Storage Tables / Blob / Azure Managed Redis for state.

`TARGET` is this package's whole interface (providers/base.py); `fleet.py` shows how the config
becomes resources. Importing this module loads no cloud SDK: `build` and `build_shared` do,
when Azure is chosen.
"""

from __future__ import annotations

from agentfleet.providers.azure import mocks, plan
from agentfleet.providers.azure.settings import REQUIRED_SETTINGS, AzureSettings, validate
from agentfleet.providers.base import Target, TargetMocks, builders_in

build, build_shared = builders_in("agentfleet.providers.azure.fleet")

TARGET = Target(
    name="azure",
    settings=AzureSettings,
    validate=validate,
    required_settings=REQUIRED_SETTINGS,
    build=build,
    build_shared=build_shared,
    plan_settings=plan.KEY_SETTINGS,
    mocks=TargetMocks(mocks.resource_outputs, mocks.invoke, stand_ins=mocks.STAND_INS),
    simulation="agentfleet.providers.azure.simulation:model",
)
