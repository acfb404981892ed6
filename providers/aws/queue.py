"""The work queue and its dead-letter queue (SQS).

- Redrive: after `max_receive_count` deliveries a message moves to the DLQ, so a poison message
  cannot keep an agent busy forever. The DLQ only accepts redrives from this queue.
- The DLQ keeps messages for SQS's maximum (14 days), longer than the queue, so that a message
  redriven near the end of its retention is still there when someone looks (SQS keeps the
  original enqueue timestamp across a redrive).
- Server-side encryption with SQS-managed keys: encrypted at rest with no KMS grant to manage.
- Long polling (`receive_wait_time_seconds=20`, the SQS maximum): idle agents do not spin.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from agentfleet.components.schema import FleetConfig
from agentfleet.providers.aws.names import FleetNames, tags
from agentfleet.providers.aws.settings import SQS_MAX_RETENTION_SECONDS

#: SQS's longest long poll: a ReceiveMessage waits up to this long for work.
LONG_POLL_SECONDS = 20


@dataclass
class Queue:
    """The work queue and its dead-letter queue."""

    queue: aws.sqs.Queue
    dead_letter_queue: aws.sqs.Queue


def redrive_policy(dead_letter_arn: str, max_receive_count: int) -> str:
    return json.dumps({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": max_receive_count})


def build_queue(parent: pulumi.Resource, config: FleetConfig) -> Queue:
    names = FleetNames(config.name)
    q = config.queue
    opts = pulumi.ResourceOptions(parent=parent)
    dlq = aws.sqs.Queue(
        names.dead_letter_queue,
        name=names.dead_letter_queue,
        message_retention_seconds=SQS_MAX_RETENTION_SECONDS,
        sqs_managed_sse_enabled=True,
        receive_wait_time_seconds=LONG_POLL_SECONDS,
        tags=tags(config.name),
        opts=opts,
    )
    queue = aws.sqs.Queue(
        names.queue,
        name=names.queue,
        visibility_timeout_seconds=q.visibility_timeout_seconds,
        message_retention_seconds=q.retention_seconds,
        receive_wait_time_seconds=LONG_POLL_SECONDS,
        sqs_managed_sse_enabled=True,
        redrive_policy=dlq.arn.apply(lambda arn: redrive_policy(arn, q.max_receive_count)),
        tags=tags(config.name),
        opts=opts,
    )
    # Only this fleet's queue may dead-letter into the DLQ.
    aws.sqs.RedriveAllowPolicy(
        names.prefixed("dlq-redrive-allow"),
        queue_url=dlq.url,
        redrive_allow_policy=queue.arn.apply(
            lambda arn: json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn]})
        ),
        opts=opts,
    )
    return Queue(queue=queue, dead_letter_queue=dlq)
