"""AWS: SQS + an EC2 Auto Scaling group; DynamoDB / S3 / ElastiCache for state.

`TARGET` is this package's whole interface (providers/base.py); `fleet.py` shows how the config
becomes resources. Importing this module loads no cloud SDK: `build` and `build_shared` do,
when AWS is chosen.
"""

from __future__ import annotations

from agentfleet.providers.aws import mocks, plan
from agentfleet.providers.aws.settings import REQUIRED_SETTINGS, AwsSettings, validate
from agentfleet.providers.base import Target, TargetMocks, builders_in

build, build_shared = builders_in("agentfleet.providers.aws.fleet")

TARGET = Target(
    name="aws",
    settings=AwsSettings,
    validate=validate,
    required_settings=REQUIRED_SETTINGS,
    build=build,
    build_shared=build_shared,
    plan_settings=plan.KEY_SETTINGS,
    mocks=TargetMocks(mocks.resource_outputs, mocks.invoke, stand_ins=mocks.STAND_INS),
    simulation="agentfleet.providers.aws.simulation:model",
)
