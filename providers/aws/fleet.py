"""TEMPORARY smoke skeleton; replaced by the AWS provider."""
from __future__ import annotations
import pulumi
import pulumi_aws as aws
from components.fleet import FleetResources

def build(parent, config, policy):
    dlq = aws.sqs.Queue(f"{config.name}-dlq", opts=pulumi.ResourceOptions(parent=parent))
    q = aws.sqs.Queue(f"{config.name}-queue", redrive_policy=dlq.arn.apply(lambda a: f'{{"deadLetterTargetArn":"{a}"}}'), opts=pulumi.ResourceOptions(parent=parent))
    return FleetResources(queue=q.url, dead_letter_queue=dlq.url, state_table=None, bucket=None, agent_group="g", children={"queue": q})
