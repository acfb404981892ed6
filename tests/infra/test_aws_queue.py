"""SQS: the work queue dead-letters into this fleet's DLQ, with the config's numbers."""

from __future__ import annotations

import json

from agentfleet.providers.aws.settings import SQS_MAX_RETENTION_SECONDS
from tests.infra.aws_helpers import aws_synth


def test_redrive_points_at_this_fleets_dlq_arn_with_max_receive_count() -> None:
    s = aws_synth({"queue": {"max_receive_count": 7}})
    queue, dlq = s.named("moodring-queue"), s.named("moodring-dlq")
    redrive = json.loads(queue.inputs["redrivePolicy"])
    assert redrive == {"deadLetterTargetArn": dlq.outputs["arn"], "maxReceiveCount": 7}
    assert dlq.outputs["arn"] == "arn:aws:sqs:us-east-1:123456789012:moodring-dlq"


def test_queue_numbers_flow_from_config() -> None:
    s = aws_synth({"queue": {"visibility_timeout_seconds": 900, "retention_seconds": 86_400}})
    q = s.named("moodring-queue").inputs
    assert q["name"] == "moodring-queue"
    assert q["visibilityTimeoutSeconds"] == 900
    assert q["messageRetentionSeconds"] == 86_400


def test_dead_letters_outlive_the_queues_retention() -> None:
    s = aws_synth({"queue": {"retention_seconds": 1_000_000}})
    dlq = s.named("moodring-dlq").inputs
    assert dlq["messageRetentionSeconds"] == SQS_MAX_RETENTION_SECONDS
    assert dlq["messageRetentionSeconds"] > s.named("moodring-queue").inputs["messageRetentionSeconds"]


def test_both_queues_are_encrypted_and_long_poll() -> None:
    s = aws_synth()
    for name in ("moodring-queue", "moodring-dlq"):
        q = s.named(name).inputs
        assert q["sqsManagedSseEnabled"] is True
        assert q["receiveWaitTimeSeconds"] == 20


def test_only_this_queue_may_redrive_into_the_dlq() -> None:
    s = aws_synth()
    allow = s.one("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy").inputs
    assert allow["queueUrl"] == s.named("moodring-dlq").outputs["url"]
    assert json.loads(allow["redriveAllowPolicy"]) == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [s.named("moodring-queue").outputs["arn"]],
    }
