"""AWS: SQS + an EC2 Auto Scaling group; DynamoDB / S3 / ElastiCache for state.

`TARGET` is this package's whole interface (providers/base.py); `fleet.py` shows how the config
becomes resources. Importing this module loads no cloud SDK: `build` does, when AWS is chosen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.schema import FleetConfig
from agentfleet.providers.aws import mocks, plan
from agentfleet.providers.aws.settings import REQUIRED_SETTINGS, AwsSettings, validate
from agentfleet.providers.base import FleetInputs, FleetResources, Target, TargetMocks

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
    """Create the fleet's AWS resources under `parent` (in `network`, or its own)."""
    # Imported here, not at the top: the SDK loads only for a stack that chose AWS.
    from agentfleet.providers.aws import fleet

    return fleet.build(parent, config, policy, shared=shared, inputs=inputs)


def build_shared(parent: pulumi.ComponentResource, config: FleetConfig, inputs: FleetInputs) -> Any:
    """Create what several fleets of one stack share, under `parent`."""
    from agentfleet.providers.aws import fleet

    return fleet.build_shared(parent, config, inputs)


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
