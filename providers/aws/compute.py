"""The agents themselves: a launch template and the Auto Scaling group that runs it.

Launch template
- Amazon Linux 2023, the newest image for the instance type's architecture (Graviton types get
  arm64). A new AL2023 release changes the template at the next `pulumi up`, and the instance
  refresh below rolls the fleet onto it: patching is a deploy, not a chore.
- IMDSv2 required, hop limit 2: the agent runs in a container (one network hop behind the host)
  and gets its instance-role credentials and lifecycle state from IMDS.
- No public IP, the agents' security group (no ingress), an encrypted root volume.
- User data: providers/aws/userdata.py (the agent container, its environment, the health watcher).

Auto Scaling group
- Named `{fleet}-agents` explicitly: the user data names it before it exists.
- `min_agents`..`max_agents`; **no desired capacity**: AWS starts at min_agents and from then on
  the scaling policies own the number, so re-running `pulumi up` never resets it.
- Health: EC2 status checks plus the agent's own `/healthz`. There is no load balancer to
  health-check the agents, so each instance runs a watcher (cloud-init) that marks itself
  Unhealthy after three failed probes; the group replaces it, draining through the lifecycle hook.
  The grace period and default instance warm-up both come from `warmup_seconds`.
- Group metrics at one-minute granularity: `GroupInServiceInstances` is the divisor of the
  backlog-per-agent metric (scaling.py).
- Instance refresh on every template change, launching replacements before terminating (an
  upgrade never lowers capacity), skipping instances that already match.
- Spot (`compute.spot`): a mixed instances policy, all Spot, price-capacity-optimized over the
  configured type and its AMD/Intel twin where one exists, with capacity rebalancing so a Spot
  agent is replaced (and drains) before its interruption.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.schema import FleetConfig
from agentfleet.providers.aws.names import FleetNames, tags
from agentfleet.providers.aws.settings import AwsSettings

#: CloudWatch group metrics collected for the group (the scaling metric and the dashboard).
GROUP_METRICS = [
    aws.autoscaling.Metric.GROUP_IN_SERVICE_INSTANCES,
    aws.autoscaling.Metric.GROUP_DESIRED_CAPACITY,
    aws.autoscaling.Metric.GROUP_PENDING_INSTANCES,
    aws.autoscaling.Metric.GROUP_TERMINATING_INSTANCES,
    aws.autoscaling.Metric.GROUP_MIN_SIZE,
    aws.autoscaling.Metric.GROUP_MAX_SIZE,
]
ROOT_VOLUME_GB = 20
#: Instance refresh: keep 100 % of capacity healthy, may run 10 % extra while replacing.
REFRESH_MIN_HEALTHY = 100
REFRESH_MAX_HEALTHY = 110
#: Spot diversification: the same size in a sibling family (AMD <-> Intel) is a second pool.
SPOT_TWINS = {"t3": "t3a", "t3a": "t3", "m5": "m5a", "m5a": "m5", "c5": "c5a", "c5a": "c5", "r5": "r5a",
              "r5a": "r5", "m6i": "m6a", "m6a": "m6i", "c6i": "c6a", "c6a": "c6i", "r6i": "r6a", "r6a": "r6i",
              "m7i": "m7a", "m7a": "m7i", "c7i": "c7a", "c7a": "c7i"}  # fmt: skip


def architecture(instance_type: str) -> str:
    """`arm64` for Graviton types (a `g` after the generation digit: t4g, c7gn, m6gd), else `x86_64`."""
    family = instance_type.split(".", 1)[0]
    return "arm64" if re.match(r"^[a-z-]*?\d+[a-z]*g", family) else "x86_64"


#: Sizes every family of SPOT_TWINS offers (t3/t3a also share nano..medium). Beyond these the
#: siblings differ (c5 has 9xlarge, c5a 8xlarge; m6a/c6a/r6a have 48xlarge, the i-types not; m7a
#: and c7a have medium, m7i and c7i not; metal variants differ): an override naming an instance
#: type that does not exist is refused by Auto Scaling, so larger sizes get no twin.
SPOT_TWIN_SIZES = {"large", "xlarge", "2xlarge", "4xlarge"}
SPOT_TWIN_SMALL_SIZES = {"nano", "micro", "small", "medium"}
#: EC2's limit on a launch template (version) description.
LAUNCH_TEMPLATE_DESCRIPTION_MAX = 255


def spot_instance_types(instance_type: str) -> list[str]:
    family, _, size = instance_type.partition(".")
    twin = SPOT_TWINS.get(family)
    shared = size in SPOT_TWIN_SIZES or (family in ("t3", "t3a") and size in SPOT_TWIN_SMALL_SIZES)
    return [instance_type] + ([f"{twin}.{size}"] if twin and shared else [])


def template_description(fleet: str, image: str) -> str:
    """What the template runs, cut to EC2's 255 characters (an ECR image with a digest can be longer)."""
    text = f"agentfleet {fleet} agent running {image}"
    limit = LAUNCH_TEMPLATE_DESCRIPTION_MAX
    return text if len(text) <= limit else text[: limit - 3] + "..."


def agent_ami(instance_type: str) -> str:
    arch = architecture(instance_type)
    ami = aws.ec2.get_ami(
        most_recent=True,
        owners=["amazon"],
        filters=[
            aws.ec2.GetAmiFilterArgs(name="name", values=[f"al2023-ami-2023.*-{arch}"]),
            aws.ec2.GetAmiFilterArgs(name="architecture", values=[arch]),
            aws.ec2.GetAmiFilterArgs(name="state", values=["available"]),
        ],
    )
    return ami.id


@dataclass
class Compute:
    launch_template: aws.ec2.LaunchTemplate
    group: aws.autoscaling.Group


def build_compute(
    parent: pulumi.Resource,
    config: FleetConfig,
    policy: ScalingPolicy,
    *,
    user_data: pulumi.Input[str],
    instance_profile_arn: pulumi.Input[str],
    security_group_id: pulumi.Input[str],
    subnet_ids: list[pulumi.Input[str]],
    depends_on: list[pulumi.Resource],
) -> Compute:
    names = FleetNames(config.name)
    instance_type = config.settings_for(AwsSettings).instance_type
    opts = pulumi.ResourceOptions(parent=parent)
    template = aws.ec2.LaunchTemplate(
        names.prefixed("agent-template"),
        name=names.launch_template,
        description=template_description(config.name, config.agent.image),
        image_id=agent_ami(instance_type),
        instance_type=instance_type,
        iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=instance_profile_arn),
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_endpoint="enabled",
            http_tokens="required",
            http_put_response_hop_limit=2,
        ),
        network_interfaces=[
            aws.ec2.LaunchTemplateNetworkInterfaceArgs(
                device_index=0,
                associate_public_ip_address="false",
                delete_on_termination="true",
                security_groups=[security_group_id],
            )
        ],
        block_device_mappings=[
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name="/dev/xvda",
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_size=ROOT_VOLUME_GB,
                    volume_type="gp3",
                    encrypted="true",
                    delete_on_termination="true",
                ),
            )
        ],
        monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=True),
        user_data=user_data,
        update_default_version=True,
        tag_specifications=[
            aws.ec2.LaunchTemplateTagSpecificationArgs(
                resource_type=kind, tags=tags(config.name, Name=names.prefixed("agent"))
            )
            for kind in ("instance", "volume")
        ],
        tags=tags(config.name),
        opts=opts,
    )
    template_version = template.latest_version.apply(str)

    launch_template: aws.autoscaling.GroupLaunchTemplateArgs | None = None
    mixed: aws.autoscaling.GroupMixedInstancesPolicyArgs | None = None
    if config.compute.spot:
        mixed = aws.autoscaling.GroupMixedInstancesPolicyArgs(
            launch_template=aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateArgs(
                launch_template_specification=(
                    aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateLaunchTemplateSpecificationArgs(
                        launch_template_id=template.id, version=template_version
                    )
                ),
                overrides=[
                    aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateOverrideArgs(instance_type=t)
                    for t in spot_instance_types(instance_type)
                ],
            ),
            instances_distribution=aws.autoscaling.GroupMixedInstancesPolicyInstancesDistributionArgs(
                on_demand_base_capacity=0,
                on_demand_percentage_above_base_capacity=0,
                spot_allocation_strategy="price-capacity-optimized",
            ),
        )
    else:
        launch_template = aws.autoscaling.GroupLaunchTemplateArgs(id=template.id, version=template_version)

    group = aws.autoscaling.Group(
        names.prefixed("agents"),
        name=names.agent_group,
        min_size=policy.min_agents,
        max_size=policy.max_agents,
        vpc_zone_identifiers=subnet_ids,
        launch_template=launch_template,
        mixed_instances_policy=mixed,
        capacity_rebalance=config.compute.spot,
        health_check_type="EC2",
        health_check_grace_period=policy.health_check_grace_seconds,
        default_instance_warmup=policy.warmup_seconds,
        metrics_granularity="1Minute",
        enabled_metrics=GROUP_METRICS,
        instance_refresh=aws.autoscaling.GroupInstanceRefreshArgs(
            strategy="Rolling",
            preferences=aws.autoscaling.GroupInstanceRefreshPreferencesArgs(
                min_healthy_percentage=REFRESH_MIN_HEALTHY,
                max_healthy_percentage=REFRESH_MAX_HEALTHY,
                instance_warmup=str(policy.warmup_seconds),
                skip_matching=True,
            ),
        ),
        # Agents at min_agents=0 never reach "InService" before work arrives: don't wait for them.
        wait_for_capacity_timeout="0",
        tags=[
            aws.autoscaling.GroupTagArgs(key=k, value=v, propagate_at_launch=False)
            for k, v in tags(config.name).items()
        ],
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on),
    )
    return Compute(launch_template=template, group=group)
