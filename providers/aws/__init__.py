"""AWS: SQS + an EC2 Auto Scaling group; DynamoDB / S3 / ElastiCache for state.

`TARGET` is this package's whole interface (providers/base.py); `fleet.py` shows how the config
becomes resources. Importing this module loads no cloud SDK: `build` does, when AWS is chosen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.schema import FleetConfig
from agentfleet.providers.aws import mocks, plan
from agentfleet.providers.aws.settings import REQUIRED_SETTINGS, AwsSettings, validate
from agentfleet.providers.base import FleetResources, Target, TargetMocks

if TYPE_CHECKING:
    import pulumi


def build(parent: pulumi.ComponentResource, config: FleetConfig, policy: ScalingPolicy) -> FleetResources:
    """Create the fleet's AWS resources under `parent`."""
    # Imported here, not at the top: the AWS SDK loads only for a stack that chose AWS.
    from agentfleet.providers.aws import fleet

    return fleet.build(parent, config, policy)


TARGET = Target(
    name="aws",
    settings=AwsSettings,
    validate=validate,
    required_settings=REQUIRED_SETTINGS,
    build=build,
    plan_settings=plan.KEY_SETTINGS,
    mocks=TargetMocks(mocks.resource_outputs, mocks.invoke, stand_ins=mocks.STAND_INS),
    simulation="agentfleet.providers.aws.simulation:model",
)
