"""AGENTFLEET_PROTECTION=aws-asg: this instance's scale-in protection in its Auto Scaling group.

- The instance id comes from IMDSv2 (`/latest/meta-data/instance-id`, the same client the
  lifecycle watcher uses; `AWS_EC2_METADATA_SERVICE_ENDPOINT` overrides the address).
- `SetInstanceProtection(AutoScalingGroupName=AGENTFLEET_GROUP, InstanceIds=[id],
  ProtectedFromScaleIn=...)`. EC2 Auto Scaling API reference: "Updates the instance protection
  settings of the specified instances." The role needs `autoscaling:SetInstanceProtection` on
  this group's ARN only (providers/aws/identity.py).
- User guide ("Use instance scale-in protection"): when every instance is protected and a
  scale-in happens, the group's desired capacity is decremented but it cannot terminate the
  instances until their protection is removed: the fleet waits for an agent to go idle.
- Throttling (`Throttling`, `RequestLimitExceeded`, ...) and `ResourceContention` ("You already
  have a pending update to an Auto Scaling resource") are `Throttled`: retried with backoff.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentfleet.agent.lifecycle.aws import INSTANCE_ID_PATH, Imds, aws_region, instance_metadata
from agentfleet.agent.protection.base import ProtectionBackend, ProtectionError, Throttled

if TYPE_CHECKING:
    from agentfleet.agent.protection import ProtectionSettings

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ResourceContention",
    }
)


class AsgProtection(ProtectionBackend):
    kind = "aws-asg"

    def __init__(self, autoscaling: Any, *, group: str, imds: Imds) -> None:
        if not group:
            raise ValueError(
                "AGENTFLEET_PROTECTION=aws-asg needs AGENTFLEET_GROUP (the Auto Scaling group name)"
            )
        self.autoscaling = autoscaling
        self.group = group
        self.imds = imds
        self.instance_id = ""

    def apply(self, protected: bool) -> None:
        from botocore.exceptions import ClientError

        if not self.instance_id:
            self.instance_id = self.imds.get(INSTANCE_ID_PATH) or ""
            if not self.instance_id:
                raise ProtectionError("instance metadata has no instance-id yet")
        try:
            self.autoscaling.set_instance_protection(
                InstanceIds=[self.instance_id],
                AutoScalingGroupName=self.group,
                ProtectedFromScaleIn=protected,
            )
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in THROTTLING_CODES:
                raise Throttled(f"{code}: {error}") from error
            raise

    def describe(self) -> dict[str, str]:
        return {"instance_id": self.instance_id, "group": self.group}


def from_settings(settings: ProtectionSettings) -> AsgProtection:
    import boto3
    from botocore.config import Config

    imds = instance_metadata()
    region = aws_region(settings.region, imds)
    # botocore's own retries stay short: the protector's backoff decides when to try again.
    client = boto3.client(
        "autoscaling",
        region_name=region,
        config=Config(retries={"mode": "standard", "total_max_attempts": 2}),
    )
    return AsgProtection(client, group=settings.group, imds=imds)
