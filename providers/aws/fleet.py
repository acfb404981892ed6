"""The AWS fleet: SQS in, EC2 agents that follow the backlog, state in DynamoDB/S3/Redis.

`build` wires the modules of this package in dependency order; each module's docstring says why
its resources look the way they do:

    network.py        VPC + private subnets + endpoints, or the user's subnets; agents' SG
    queue.py          queue + DLQ (redrive, SSE, long polling)
    state.py          DynamoDB table, S3 bucket, optional ElastiCache
    monitoring.py     log group, alarm topic, alarms, dashboard
    identity.py       the instance role: exactly this fleet's ARNs
    userdata.py       the agent's environment and cloud-init
    compute.py        launch template + Auto Scaling group (health, warm-up, refresh, Spot)
    lifecycle.py      termination hook: drain before terminate
    scaling.py        target tracking on backlog per agent + scale from zero
"""

from __future__ import annotations

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
    state,
    userdata,
)
from agentfleet.providers.base import FleetResources


def region_name() -> str:
    return aws.get_region().region


def build(parent: pulumi.ComponentResource, config: FleetConfig, policy: ScalingPolicy) -> FleetResources:
    region = region_name()
    net = network.build_network(parent, config, region)
    queues = queue.build_queues(parent, config)
    data = state.build_state(
        parent,
        config,
        vpc_id=net.vpc_id,
        subnet_ids=net.private_subnet_ids,
        agents_security_group_id=net.agents_security_group.id,
    )
    obs = monitoring.build_logs(parent, config)
    agent_identity = identity.build_identity(
        parent,
        config.name,
        region=region,
        queue_arn=queues.queue.arn,
        dead_letter_arn=queues.dead_letter_queue.arn,
        table_arn=data.table.arn if data.table else None,
        bucket_arn=data.bucket.arn if data.bucket else None,
        log_group_arn=obs.log_group.arn,
        ecr_repository_arn=ecr.repository_arn if (ecr := userdata.ecr_image(config.agent.image)) else None,
    )
    table_name = data.table.name if data.table else None
    bucket_name = data.bucket.bucket if data.bucket else None
    agents = compute.build_compute(
        parent,
        config,
        policy,
        user_data=userdata.user_data(
            config,
            policy,
            queue_url=queues.queue.url,
            dead_letter_url=queues.dead_letter_queue.url,
            table=table_name,
            bucket=bucket_name,
            cache_url=data.cache_url,
            region=region,
        ),
        instance_profile_arn=agent_identity.instance_profile.arn,
        security_group_id=net.agents_security_group.id,
        subnet_ids=net.private_subnet_ids,
        # The first agent must find its permissions, and its subnet's routes, in place.
        depends_on=[agent_identity.data_policy, *net.ready],
    )
    group = agents.group
    identity.attach_lifecycle_policy(parent, config.name, agent_identity.role, group.arn)
    lifecycle.build_termination_hook(parent, config.name, policy, group)
    scaling.build_target_tracking(
        parent, config.name, policy, group_name=group.name, queue_name=queues.queue.name
    )
    scaling.build_scale_from_zero(
        parent, config.name, policy, group_name=group.name, queue_name=queues.queue.name
    )
    monitoring.build_alarms(
        parent,
        config,
        topic=obs.alarm_topic,
        queue_name=queues.queue.name,
        dead_letter_name=queues.dead_letter_queue.name,
    )
    monitoring.build_dashboard(
        parent,
        config,
        region=region,
        queue_name=queues.queue.name,
        dead_letter_name=queues.dead_letter_queue.name,
        group_name=group.name,
    )

    return FleetResources(
        queue=queues.queue.name,
        dead_letter_queue=queues.dead_letter_queue.name,
        state_table=table_name,
        bucket=bucket_name,
        agent_group=group.name,
        send_work={"queue_url": queues.queue.url, "region": region},
    )
