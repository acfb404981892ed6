"""Graceful shutdown: the termination lifecycle hook that gives an agent time to drain.

When the group scales in, refreshes or replaces an unhealthy agent, the instance enters
`Terminating:Wait` instead of being stopped. The agent (AGENTFLEET_LIFECYCLE=aws-asg) sees the
target lifecycle state in IMDS, stops taking work, finishes what it has within
`drain_timeout_seconds`, and calls CompleteLifecycleAction with CONTINUE for this hook and group
(AGENTFLEET_LIFECYCLE_HOOK, AGENTFLEET_GROUP). The heartbeat is the policy's shutdown grace
(drain + margin): if the agent never completes the action, AWS continues the termination when
the heartbeat runs out — a wedged agent cannot keep an instance (and its bill) alive.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.schema import FleetConfig
from agentfleet.providers.aws.names import FleetNames
from agentfleet.providers.aws.settings import LIFECYCLE_HEARTBEAT_MAX_SECONDS, LIFECYCLE_HEARTBEAT_MIN_SECONDS

TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"


def heartbeat_seconds(policy: ScalingPolicy) -> int:
    """The hook's heartbeat: the drain plus margin, within the 30-7,200 s AWS allows.

    settings.py rejects a drain that does not fit, so the clamp only lifts short drains to 30 s.
    """
    return max(
        LIFECYCLE_HEARTBEAT_MIN_SECONDS, min(LIFECYCLE_HEARTBEAT_MAX_SECONDS, policy.shutdown_grace_seconds)
    )


def build_termination_hook(
    parent: pulumi.Resource, config: FleetConfig, policy: ScalingPolicy, *, group_name: pulumi.Input[str]
) -> aws.autoscaling.LifecycleHook:
    names = FleetNames(config.name)
    return aws.autoscaling.LifecycleHook(
        names.prefixed("drain-hook"),
        name=names.lifecycle_hook,
        autoscaling_group_name=group_name,
        lifecycle_transition=TERMINATING,
        heartbeat_timeout=heartbeat_seconds(policy),
        default_result="CONTINUE",
        opts=pulumi.ResourceOptions(parent=parent),
    )
