"""Google Cloud: Pub/Sub + a GKE Deployment scaled by KEDA; Firestore / GCS / Memorystore for state.

`TARGET` is this package's whole interface (providers/base.py); `fleet.py` shows how the config
becomes resources. Importing this module loads no cloud SDK: `build` and `build_shared` do,
when Google Cloud is chosen.
"""

from __future__ import annotations

from agentfleet.providers.base import Target, TargetMocks, builders_in
from agentfleet.providers.gcp import mocks, plan
from agentfleet.providers.gcp.settings import REQUIRED_SETTINGS, GcpSettings, validate

build, build_shared = builders_in("agentfleet.providers.gcp.fleet", "agentfleet.providers.gcp.shared")

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
