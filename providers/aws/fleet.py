"""The AWS fleet: SQS in, EC2 agents that follow the backlog, state in DynamoDB/S3/Redis.

`build` wires the modules of this package in dependency order; each module's docstring says why
its resources look the way they do:

    network.py        VPC + private subnets + endpoints, or the user's subnets, or the network
                      several fleets share (`build_shared`); the fleet's own agents' SG
    queue.py          queue + DLQ (redrive, SSE, long polling)
    state.py          DynamoDB table, S3 bucket, optional ElastiCache
    monitoring.py     log group, alarm topic, alarms, dashboard
    secrets.py        agent.secrets: values into Secrets Manager, references granted
    identity.py       the instance role: exactly this fleet's ARNs
    userdata.py       the agent's environment and cloud-init
    compute.py        launch template + Auto Scaling group (health, warm-up, refresh, Spot)
    lifecycle.py      termination hook: drain before terminate
    scaling.py        target tracking on backlog per agent + scale from zero

Every builder has the same shape:

    build_<what>(parent, config[, policy], *, <resources it refers to>) -> <record>

`parent` is the `ScalableAgentFleet` every resource hangs under, `config` the validated
`FleetConfig` (names come from it through `names.FleetNames`), `policy` the `ScalingPolicy` for
the builders that need its numbers (compute, lifecycle, scaling); everything else is a keyword:
the Outputs of resources built before (`queue_name=`, `group_arn=`) and the region. A builder
returns a small record of the resources later builders refer to, or the one resource it made.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.schema import FleetConfig
from agentfleet.providers.aws import (
    compute,
    identity,
    lifecycle,
    monitoring,
    network,
    queue,
    scaling,
    secrets,
    state,
    userdata,
)
from agentfleet.providers.aws.network import SharedNetwork
from agentfleet.providers.base import FleetInputs, FleetResources


def region_name(parent: pulumi.Resource) -> str:
    """The region of the component's AWS provider: an explicit one passed to the component
    (`providers={"aws": ...}`) when given, else the stack's `aws:region`."""
    return aws.get_region(opts=pulumi.InvokeOptions(parent=parent)).region


def build_shared(parent: pulumi.ComponentResource, config: FleetConfig, inputs: FleetInputs) -> SharedNetwork:
    """The VPC, subnets, NAT and endpoints the fleets of a stack share, as children of the
    `FleetNetwork` `parent`; or the user's VPC (`aws.vpc_id` / `inputs.network_id`), recorded."""
    return network.build_shared_network(parent, config, region=region_name(parent), inputs=inputs)


def build(
    parent: pulumi.ComponentResource,
    config: FleetConfig,
    policy: ScalingPolicy,
    *,
    shared: Any | None,
    inputs: FleetInputs,
) -> FleetResources:
    if shared is not None and not isinstance(shared, SharedNetwork):
        raise TypeError(f"agentfleet: an AWS fleet joins an AWS network, not {type(shared).__name__}")
    region = region_name(parent)
    net = (
        network.build_network(parent, config, region=region, inputs=inputs)
        if shared is None
        else network.join_network(parent, config, shared, inputs)
    )
    image = inputs.image if inputs.image is not None else config.agent.image
    work = queue.build_queue(parent, config)
    stores = state.build_state(
        parent,
        config,
        vpc_id=net.vpc_id,
        subnet_ids=net.private_subnet_ids,
        agents_security_group_id=net.agents_security_group.id,
    )
    destinations = monitoring.build_destinations(parent, config)
    fleet_secrets = secrets.build_secrets(parent, config, region=region)
    agent_identity = identity.build_identity(
        parent,
        config,
        region=region,
        queue_arn=work.queue.arn,
        dead_letter_arn=work.dead_letter_queue.arn,
        table_arn=stores.table.arn if stores.table else None,
        bucket_arn=stores.bucket.arn if stores.bucket else None,
        log_group_arn=destinations.log_group.arn,
        ecr_repository_arn=userdata.ecr_repository_arn(image),
        secret_arns=fleet_secrets.secret_arns if fleet_secrets else (),
        parameter_arns=fleet_secrets.parameter_arns if fleet_secrets else (),
    )
    table_name = stores.table.name if stores.table else None
    bucket_name = stores.bucket.bucket if stores.bucket else None
    agents = compute.build_compute(
        parent,
        config,
        policy,
        user_data=userdata.user_data(
            config,
            policy,
            queue_url=work.queue.url,
            dead_letter_url=work.dead_letter_queue.url,
            table=table_name,
            bucket=bucket_name,
            cache_url=stores.cache_url,
            region=region,
            image=image,
            secrets=fleet_secrets.references if fleet_secrets else None,
        ),
        instance_profile_arn=agent_identity.instance_profile.arn,
        security_group_id=net.agents_security_group.id,
        subnet_ids=net.private_subnet_ids,
        # The first agent must find its permissions, its subnet's routes and its secrets in place.
        depends_on=[
            agent_identity.data_policy,
            *net.ready,
            *(fleet_secrets.versions if fleet_secrets else []),
        ],
        image=image,
    )
    group = agents.group
    identity.build_group_policy(parent, config, role=agent_identity.role, group_arn=group.arn)
    lifecycle.build_termination_hook(parent, config, policy, group_name=group.name)
    scaling.build_target_tracking(parent, config, policy, group_name=group.name, queue_name=work.queue.name)
    scaling.build_scale_from_zero(parent, config, policy, group_name=group.name, queue_name=work.queue.name)
    monitoring.build_alarms(
        parent,
        config,
        topic=destinations.alarm_topic,
        queue_name=work.queue.name,
        dead_letter_name=work.dead_letter_queue.name,
    )
    monitoring.build_dashboard(
        parent,
        config,
        region=region,
        queue_name=work.queue.name,
        dead_letter_name=work.dead_letter_queue.name,
        group_name=group.name,
    )

    return FleetResources(
        queue=work.queue.name,
        dead_letter_queue=work.dead_letter_queue.name,
        state_table=table_name,
        bucket=bucket_name,
        agent_group=group.name,
        send_work={"queue_url": work.queue.url, "region": region},
    )
