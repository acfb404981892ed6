"""The agents themselves: a launch template and the Auto Scaling group that runs it.

Launch template
- Amazon Linux 2023 for the instance type's architecture (Graviton types get arm64). Unpinned,
  the template names AWS's public SSM parameter for the newest AL2023 (`resolve:ssm:...`), which
  EC2 resolves when it launches an instance: the template itself never changes when AWS
  publishes an AMI, so no `pulumi up` rolls the fleet for it, while every agent started later
  (scale-out, replacement) boots the newest image. `aws.ami_id` pins one image instead; changing
  it is a template change, which the instance refresh below rolls out. To roll a running fleet
  onto the newest AL2023 without a pin, start a refresh by hand (docs/aws.md).
- IMDSv2 required, hop limit 2: the agent runs in a container (one network hop behind the host)
  and gets its instance-role credentials and lifecycle state from IMDS.
- No public IP, the agents' security group (no ingress), an encrypted root volume.
- Basic (5-minute) EC2 monitoring: detailed monitoring bills per instance-minute metrics nothing
  here reads (scaling uses SQS and group metrics, health uses /healthz).
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
  upgrade never lowers capacity), skipping instances that already match, and waiting for a busy
  agent (scale-in protected) to go idle before replacing it.
- Spot (`compute.spot`): a mixed instances policy, price-capacity-optimized over many pools:
  `aws.spot_instance_types` if given, else the configured type plus the same size in its sibling
  families (same vCPU and memory, same architecture, across Intel/AMD and generations), since
  AWS's Spot guidance is to be flexible across many instance types. `aws.on_demand_base` agents
  are On-Demand (the configured type first), the rest Spot; capacity rebalancing replaces (and
  drains) a Spot agent before its interruption.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.schema import FleetConfig
from agentfleet.providers.aws.names import FleetNames, tags
from agentfleet.providers.aws.settings import AwsSettings, architecture

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
#: Spot diversification: families with the same vCPU and memory per size and the same
#: architecture; the same size in each is another Spot pool. Only the sizes every family of a
#: group offers are spread (SPOT_SHARED_SIZES): an override naming an instance type that does not
#: exist is refused by Auto Scaling (c5 has 9xlarge and c5a 8xlarge; m7i and c7i have no medium;
#: metal variants differ), so other sizes run on the configured type alone.
SPOT_FAMILY_GROUPS = (
    ("t3", "t3a"),
    ("m5", "m5a", "m6i", "m6a", "m7i", "m7a"),
    ("c5", "c5a", "c6i", "c6a", "c7i", "c7a"),
    ("r5", "r5a", "r6i", "r6a", "r7i", "r7a"),
    ("m6g", "m7g"),
    ("c6g", "c7g"),
    ("r6g", "r7g"),
)
SPOT_SHARED_SIZES = {"large", "xlarge", "2xlarge", "4xlarge"}
SPOT_SHARED_SMALL_SIZES: dict[tuple[str, ...], set[str]] = {
    ("t3", "t3a"): {"nano", "micro", "small", "medium"},
    ("m6g", "m7g"): {"medium"},
    ("c6g", "c7g"): {"medium"},
    ("r6g", "r7g"): {"medium"},
}
#: The public SSM parameters AWS keeps pointing at the newest Amazon Linux 2023 AMI.
AL2023_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}"
#: EC2's limit on a launch template (version) description.
LAUNCH_TEMPLATE_DESCRIPTION_MAX = 255


def spot_instance_types(instance_type: str) -> list[str]:
    """The configured type first, then the same size in each sibling family that offers it."""
    family, _, size = instance_type.partition(".")
    for group in SPOT_FAMILY_GROUPS:
        if family in group and (size in SPOT_SHARED_SIZES or size in SPOT_SHARED_SMALL_SIZES.get(group, ())):
            return [instance_type] + [f"{other}.{size}" for other in group if other != family]
    return [instance_type]


def template_description(fleet: str, image: str) -> str:
    """What the template runs, cut to EC2's 255 characters (an ECR image with a digest can be longer)."""
    text = f"agentfleet {fleet} agent running {image}"
    limit = LAUNCH_TEMPLATE_DESCRIPTION_MAX
    return text if len(text) <= limit else text[: limit - 3] + "..."


def agent_image_id(settings: AwsSettings) -> str:
    """The launch template's image: the pinned AMI, or AL2023's SSM parameter, resolved at launch."""
    if settings.ami_id is not None:
        return settings.ami_id
    # "With Systems Manager parameters, you can update your Auto Scaling groups to use new AMI IDs
    # without needing to create new launch templates or new versions of launch templates each time
    # an AMI ID changes." (EC2 Auto Scaling user guide, using-systems-manager-parameters)
    return "resolve:ssm:" + AL2023_PARAMETER.format(arch=architecture(settings.instance_type))


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
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]],
    depends_on: list[pulumi.Resource],
    image: pulumi.Input[str],
) -> Compute:
    names = FleetNames(config.name)
    settings = config.settings_for(AwsSettings)
    instance_type = settings.instance_type
    opts = pulumi.ResourceOptions(parent=parent)
    template = aws.ec2.LaunchTemplate(
        names.prefixed("agent-template"),
        name=names.launch_template,
        description=pulumi.Output.from_input(image).apply(lambda i: template_description(config.name, i)),
        image_id=agent_image_id(settings),
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
        monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=False),
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
                # "A good rule of thumb is to be flexible across at least 10 instance types for each
                # workload" (EC2 user guide, Spot best practices): every sibling of the same size.
                overrides=[
                    aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateOverrideArgs(instance_type=t)
                    for t in settings.spot_instance_types or spot_instance_types(instance_type)
                ],
            ),
            instances_distribution=aws.autoscaling.GroupMixedInstancesPolicyInstancesDistributionArgs(
                # On-Demand takes the first override, the configured type: "Default: ... prioritized for
                # Auto Scaling groups that don't [specify InstanceRequirements]" (InstancesDistribution).
                on_demand_base_capacity=settings.on_demand_base,
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
                # A busy agent holds scale-in protection: "Wait ... waits one hour for you to remove
                # scale-in protection. Otherwise, the instance refresh will fail" (RefreshPreferences);
                # the provider's default is Ignore, which would leave busy agents on the old template.
                scale_in_protected_instances="Wait",
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
