"""What an operator watches: agent logs, two alarms that mean "look now", and a dashboard.

- Log group `/agentfleet/{fleet}` with a retention (agents' container logs arrive through
  Docker's awslogs driver, userdata.py), so logs neither vanish nor cost forever.
- An SNS topic `{fleet}-alarms` that both alarms notify: subscribe a mail address or a pager.
  It is not KMS-encrypted on purpose: CloudWatch cannot publish to a topic under the AWS-managed
  SNS key, and alarm notifications carry no data of the fleet's work.
- Oldest message age: work has waited longer than two leases (and at least 15 minutes) — the
  fleet is not keeping up, or not running. Capped at half the retention, so it fires well before
  SQS deletes unprocessed work.
- Dead-letter queue not empty: a handler gave up on a message; someone should read it.
- Dashboard `agentfleet-{fleet}-{region}` (dashboards are global to the account): backlog
  (waiting, in flight, oldest age), agents (in service, desired, pending, terminating), throughput
  (messages deleted = done, per minute) and the DLQ.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from agentfleet.components.schema import FleetConfig
from agentfleet.providers.aws.names import FleetNames, tags

LOG_RETENTION_DAYS = 30
MIN_OLDEST_MESSAGE_ALARM_SECONDS = 900


def oldest_message_alarm_seconds(config: FleetConfig) -> int:
    q = config.queue
    return min(
        max(MIN_OLDEST_MESSAGE_ALARM_SECONDS, 2 * q.visibility_timeout_seconds), q.retention_seconds // 2
    )


@dataclass
class Destinations:
    """Where the agents' logs and the alarms' notifications go."""

    log_group: aws.cloudwatch.LogGroup
    alarm_topic: aws.sns.Topic


def build_destinations(parent: pulumi.Resource, config: FleetConfig) -> Destinations:
    names = FleetNames(config.name)
    opts = pulumi.ResourceOptions(parent=parent)
    log_group = aws.cloudwatch.LogGroup(
        names.prefixed("logs"),
        name=names.log_group,
        retention_in_days=LOG_RETENTION_DAYS,
        tags=tags(config.name),
        opts=opts,
    )
    topic = aws.sns.Topic(
        names.prefixed("alarms"), name=names.prefixed("alarms"), tags=tags(config.name), opts=opts
    )
    return Destinations(log_group=log_group, alarm_topic=topic)


def build_alarms(
    parent: pulumi.Resource,
    config: FleetConfig,
    *,
    topic: aws.sns.Topic,
    queue_name: pulumi.Input[str],
    dead_letter_name: pulumi.Input[str],
) -> dict[str, aws.cloudwatch.MetricAlarm]:
    names = FleetNames(config.name)
    opts = pulumi.ResourceOptions(parent=parent)
    oldest = oldest_message_alarm_seconds(config)
    oldest_alarm = aws.cloudwatch.MetricAlarm(
        names.prefixed("oldest-message"),
        name=names.prefixed("oldest-message"),
        alarm_description=(
            f"agentfleet {config.name}: a message has waited more than {oldest} s; "
            "agents are not keeping up or not running"
        ),
        namespace="AWS/SQS",
        metric_name="ApproximateAgeOfOldestMessage",
        dimensions={"QueueName": queue_name},
        statistic="Maximum",
        period=60,
        evaluation_periods=5,
        datapoints_to_alarm=3,
        comparison_operator="GreaterThanThreshold",
        threshold=float(oldest),
        treat_missing_data="notBreaching",
        alarm_actions=[topic.arn],
        ok_actions=[topic.arn],
        opts=opts,
    )
    dlq_alarm = aws.cloudwatch.MetricAlarm(
        names.prefixed("dead-letters"),
        name=names.prefixed("dead-letters"),
        alarm_description=f"agentfleet {config.name}: messages dead-lettered in {names.dead_letter_queue}",
        namespace="AWS/SQS",
        metric_name="ApproximateNumberOfMessagesVisible",
        dimensions={"QueueName": dead_letter_name},
        statistic="Maximum",
        period=60,
        evaluation_periods=1,
        comparison_operator="GreaterThanOrEqualToThreshold",
        threshold=1.0,
        treat_missing_data="notBreaching",
        alarm_actions=[topic.arn],
        ok_actions=[topic.arn],
        opts=opts,
    )
    return {"oldest_message_alarm": oldest_alarm, "dead_letter_alarm": dlq_alarm}


def dashboard_body(region: str, queue: str, dead_letter: str, group: str) -> str:
    def widget(title: str, metrics: list[list[Any]], x: int, y: int, stat: str = "Maximum") -> dict[str, Any]:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": {"title": title, "region": region, "stat": stat, "period": 60, "metrics": metrics},
        }

    def sqs(metric: str, queue_name: str, **style: str) -> list[Any]:
        return (
            ["AWS/SQS", metric, "QueueName", queue_name, style]
            if style
            else ["AWS/SQS", metric, "QueueName", queue_name]
        )

    backlog = [
        sqs("ApproximateNumberOfMessagesVisible", queue, label="waiting"),
        sqs("ApproximateNumberOfMessagesNotVisible", queue, label="in flight"),
        sqs("ApproximateAgeOfOldestMessage", queue, label="oldest (s)", yAxis="right"),
    ]
    agents = [
        ["AWS/AutoScaling", m, "AutoScalingGroupName", group]
        for m in (
            "GroupInServiceInstances",
            "GroupDesiredCapacity",
            "GroupPendingInstances",
            "GroupTerminatingInstances",
        )
    ]
    throughput = [
        sqs("NumberOfMessagesDeleted", queue, label="done"),
        sqs("NumberOfMessagesSent", queue, label="sent"),
    ]
    dead = [sqs("ApproximateNumberOfMessagesVisible", dead_letter, label="dead letters")]
    return json.dumps(
        {
            "widgets": [
                widget("Backlog", backlog, 0, 0),
                widget("Agents", agents, 12, 0),
                widget("Throughput (messages per minute)", throughput, 0, 6, stat="Sum"),
                widget("Dead letters", dead, 12, 6),
            ]
        }
    )


def build_dashboard(
    parent: pulumi.Resource,
    config: FleetConfig,
    *,
    region: str,
    queue_name: pulumi.Input[str],
    dead_letter_name: pulumi.Input[str],
    group_name: pulumi.Input[str],
) -> aws.cloudwatch.Dashboard:
    names = FleetNames(config.name)
    body = pulumi.Output.all(queue_name, dead_letter_name, group_name).apply(
        lambda v: dashboard_body(region, v[0], v[1], v[2])
    )
    return aws.cloudwatch.Dashboard(
        names.prefixed("dashboard"),
        dashboard_name=names.dashboard(region),
        dashboard_body=body,
        opts=pulumi.ResourceOptions(parent=parent),
    )
