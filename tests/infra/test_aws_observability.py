"""Logs, the two alarms that mean "look now", and the dashboard, all about this fleet."""

from __future__ import annotations

import json

from tests.infra.aws_helpers import aws_synth


def test_log_group_is_named_for_the_fleet_and_has_a_retention() -> None:
    logs = aws_synth().one("aws:cloudwatch/logGroup:LogGroup").inputs
    assert logs["name"] == "/agentfleet/moodring"
    assert logs["retentionInDays"] == 30


def test_oldest_message_alarm_watches_this_queue_at_two_leases() -> None:
    s = aws_synth({"queue": {"visibility_timeout_seconds": 1200}})
    alarm = s.named("moodring-oldest-message").inputs
    assert alarm["metricName"] == "ApproximateAgeOfOldestMessage"
    assert alarm["dimensions"] == {"QueueName": s.named("moodring-queue").outputs["name"]}
    assert alarm["threshold"] == 2400
    assert alarm["alarmActions"] == [s.one("aws:sns/topic:Topic").outputs["arn"]]


def test_oldest_message_alarm_fires_before_retention_deletes_work() -> None:
    alarm = aws_synth({"queue": {"retention_seconds": 600}}).named("moodring-oldest-message").inputs
    assert alarm["threshold"] == 300


def test_dead_letter_alarm_fires_on_the_first_dead_letter() -> None:
    s = aws_synth()
    alarm = s.named("moodring-dead-letters").inputs
    assert alarm["dimensions"] == {"QueueName": s.named("moodring-dlq").outputs["name"]}
    assert alarm["metricName"] == "ApproximateNumberOfMessagesVisible"
    assert (alarm["comparisonOperator"], alarm["threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    assert alarm["alarmActions"] == [s.one("aws:sns/topic:Topic").outputs["arn"]]


def test_dashboard_shows_backlog_agents_throughput_and_dead_letters_of_this_fleet() -> None:
    s = aws_synth()
    body = json.loads(s.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert titles == ["Backlog", "Agents", "Throughput (messages per minute)", "Dead letters"]
    metrics = [m for w in body["widgets"] for m in w["properties"]["metrics"]]
    assert [
        "AWS/AutoScaling",
        "GroupInServiceInstances",
        "AutoScalingGroupName",
        "moodring-agents",
    ] in metrics
    assert any(m[1] == "NumberOfMessagesDeleted" and m[3] == "moodring-queue" for m in metrics)
    assert any(m[1] == "ApproximateNumberOfMessagesVisible" and m[3] == "moodring-dlq" for m in metrics)
    assert {w["properties"]["region"] for w in body["widgets"]} == {"us-east-1"}
