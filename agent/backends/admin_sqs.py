"""Operator verbs on an SQS fleet: the work queue, its dead-letter queue, and the Auto Scaling group.

- Counts: `ApproximateNumberOfMessages` / `…NotVisible` (GetQueueAttributes) as the runtime reads
  them; the oldest message's age is CloudWatch's `ApproximateAgeOfOldestMessage`, the only place
  SQS publishes it (None when CloudWatch has no recent datapoint or refuses).
- Agents: the group's `DesiredCapacity`, its `InService` instances, and of those the ones
  `ProtectedFromScaleIn` (busy agents protect themselves while they work).
- Dead letters are read with ReceiveMessage on the dead-letter queue: a peek holds each message
  for `peek_seconds` and then makes it visible again (ChangeMessageVisibility 0), so a look
  raises its `ApproximateReceiveCount`.
- Redrive of everything uses SQS's own message-move task (StartMessageMoveTask from the
  dead-letter queue to the work queue, ListMessageMoveTasks for progress); one already running is
  watched rather than started twice ("only one active message movement task is supported per
  queue at any given time"). Against an endpoint override (AWS_ENDPOINT_URL: moto has no move
  task) a refused task makes the caller redrive message by message instead; against AWS it is an
  error.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from agentfleet.agent.backends.admin import (
    REDRIVE_ID_ATTRIBUTE,
    AgentCounts,
    DeadLetter,
    MoveProgress,
    QueueAdmin,
    QueueCounts,
    copy_attributes,
    peek_by_holding,
    require,
)
from agentfleet.agent.backends.base import BackendError
from agentfleet.agent.backends.sqs import MAX_BATCH, REASON_ATTRIBUTE, SqsBackend, make_client

#: Reason shown for a message SQS itself moved after maxReceiveCount deliveries.
NATIVE_REASON = "maxReceiveCount exceeded (the queue's redrive policy)"
#: SQS allows at most 10 message attributes.
MAX_ATTRIBUTES = 10
#: "The sum of the message lengths of all messages in the batch" SendMessageBatch accepts (the
#: long-standing 256 KiB; accounts with the larger 1 MiB message size accept more).
MAX_BATCH_BYTES = 256 * 1024

T = TypeVar("T")


class SqsAdmin(QueueAdmin):
    name = "sqs"
    batch_size = MAX_BATCH

    def __init__(
        self,
        backend: SqsBackend,
        dead_letter_url: str,
        *,
        autoscaling: Any = None,
        cloudwatch: Any = None,
        group_name: str = "",
        hold_seconds: int = 120,
        peek_seconds: int = 30,
        poll_seconds: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        endpoint_override: bool = False,
    ) -> None:
        self.backend = backend
        self.client = backend.client
        self.dead_letter_url = dead_letter_url
        self.autoscaling = autoscaling
        self.cloudwatch = cloudwatch
        self.group_name = group_name
        self.hold_seconds = hold_seconds
        self.peek_seconds = peek_seconds
        self.poll_seconds = poll_seconds
        self._sleep = sleep
        #: True when boto3 talks to an endpoint other than AWS's (AWS_ENDPOINT_URL): a failing
        #: move task then means "not emulated here", and the caller redrives message by message.
        self.endpoint_override = endpoint_override

    # -- counts ---------------------------------------------------------------------------------

    def counts(self) -> QueueCounts:
        stats = self.backend.stats()
        dead = self._attribute(self.dead_letter_url, "ApproximateNumberOfMessages")
        return QueueCounts(
            waiting=stats.waiting,
            in_flight=stats.in_flight,
            dead_lettered=int(dead),
            oldest_age_seconds=self._oldest_age(),
        )

    def _oldest_age(self) -> float | None:
        if self.cloudwatch is None:
            return None
        from botocore.exceptions import BotoCoreError, ClientError

        queue_name = self.backend.queue_url.rstrip("/").rsplit("/", 1)[-1]
        now = dt.datetime.now(dt.UTC)
        try:
            response = self.cloudwatch.get_metric_statistics(
                Namespace="AWS/SQS",
                MetricName="ApproximateAgeOfOldestMessage",
                Dimensions=[{"Name": "QueueName", "Value": queue_name}],
                StartTime=now - dt.timedelta(minutes=10),
                EndTime=now,
                Period=60,
                Statistics=["Maximum"],
            )
        except (BotoCoreError, ClientError):
            return None  # no cloudwatch:GetMetricStatistics, or no CloudWatch at this endpoint
        points = sorted(response.get("Datapoints", []), key=lambda p: p["Timestamp"])
        return float(points[-1]["Maximum"]) if points else None

    def agents(self) -> AgentCounts:
        from botocore.exceptions import ClientError

        if self.autoscaling is None or not self.group_name:
            return AgentCounts()
        try:
            response = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[self.group_name])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("AccessDenied", "AccessDeniedException"):
                return AgentCounts()  # no autoscaling:DescribeAutoScalingGroups: agents unknown
            raise
        groups = response["AutoScalingGroups"]
        if not groups:
            raise BackendError(f"Auto Scaling group {self.group_name!r} (agent_group) does not exist")
        group = groups[0]
        in_service = [i for i in group.get("Instances", []) if i.get("LifecycleState") == "InService"]
        return AgentCounts(
            desired=int(group["DesiredCapacity"]),
            in_service=len(in_service),
            busy=sum(1 for i in in_service if i.get("ProtectedFromScaleIn")),
        )

    # -- dead letters ---------------------------------------------------------------------------

    def peek_dead_letters(self, limit: int) -> list[DeadLetter]:
        return peek_by_holding(self, lambda n: self._receive(n, self.peek_seconds), limit)

    def take_dead_letters(self, max_messages: int) -> list[DeadLetter]:
        return self._receive(min(MAX_BATCH, max_messages), self.hold_seconds)

    def requeue(self, letters: Sequence[DeadLetter]) -> list[bool]:
        confirmed = [False] * len(letters)
        for chunk in _batches(letters, lambda letter: len(letter.body)):
            entries = [
                {
                    "Id": str(i),
                    "MessageBody": letter.text(),
                    "MessageAttributes": _sqs_attributes(
                        copy_attributes(letter.attributes, letter.key, drop=[REASON_ATTRIBUTE])
                    ),
                }
                for i, letter in chunk
            ]
            response = self.client.send_message_batch(QueueUrl=self.backend.queue_url, Entries=entries)
            for entry in response.get("Successful", []):
                confirmed[int(entry["Id"])] = True
        return confirmed

    def remove_dead_letters(self, letters: Sequence[DeadLetter]) -> list[bool]:
        return self._batch(letters, self.client.delete_message_batch, {})

    def give_back(self, letters: Sequence[DeadLetter]) -> None:
        self._batch(letters, self.client.change_message_visibility_batch, {"VisibilityTimeout": 0})

    def send_batch(self, bodies: Sequence[bytes]) -> int:
        sent = 0
        for chunk in _batches(bodies, len):
            entries = [{"Id": str(i), "MessageBody": body.decode("utf-8")} for i, body in chunk]
            response = self.client.send_message_batch(QueueUrl=self.backend.queue_url, Entries=entries)
            failed = response.get("Failed", [])
            sent += len(response.get("Successful", []))
            if failed:
                first = failed[0]
                raise BackendError(
                    f"SQS refused {len(failed)} of a batch of {len(chunk)} after {sent} were sent: "
                    f"{first.get('Code', '')} {first.get('Message', '')}"
                )
        return sent

    def move_all_dead_letters(self, on_progress: MoveProgress) -> int | None:
        from botocore.exceptions import ClientError

        source = self._attribute(self.dead_letter_url, "QueueArn")
        destination = self._attribute(self.backend.queue_url, "QueueArn")
        try:
            task = self._running_task(source)
            if task is None:
                self.client.start_message_move_task(SourceArn=source, DestinationArn=destination)
        except ClientError:
            if self.endpoint_override:
                return None  # an emulator without the move task (moto answers 500)
            raise
        while True:
            task = self._latest_task(source)
            if task is None:
                raise BackendError(f"SQS lists no message-move task for {source} after starting one")
            moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
            total = task.get("ApproximateNumberOfMessagesToMove")
            on_progress(moved, int(total) if total is not None else None)
            status = task.get("Status")
            if status == "COMPLETED":
                return moved
            if status in ("FAILED", "CANCELLED"):
                raise BackendError(
                    f"SQS message-move task {status.lower()} after {moved} messages: "
                    f"{task.get('FailureReason', 'no reason given')}"
                )
            self._sleep(self.poll_seconds)

    # -- helpers --------------------------------------------------------------------------------

    def _running_task(self, source: str) -> dict[str, Any] | None:
        task = self._latest_task(source)
        return task if task is not None and task.get("Status") in ("RUNNING", "CANCELLING") else None

    def _latest_task(self, source: str) -> dict[str, Any] | None:
        results = self.client.list_message_move_tasks(SourceArn=source, MaxResults=1).get("Results", [])
        return dict(results[0]) if results else None

    def _attribute(self, url: str, name: str) -> str:
        response = self.client.get_queue_attributes(QueueUrl=url, AttributeNames=[name])
        return str(response["Attributes"][name])

    def _receive(self, count: int, hold_seconds: int) -> list[DeadLetter]:
        response = self.client.receive_message(
            QueueUrl=self.dead_letter_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=1,
            VisibilityTimeout=hold_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
            MessageAttributeNames=["All"],
        )
        return [_letter(raw) for raw in response.get("Messages", [])]

    def _batch(self, letters: Sequence[DeadLetter], call: Any, extra: dict[str, Any]) -> list[bool]:
        """One DLQ batch call per 10 letters (delete, or visibility 0); True where SQS confirmed."""
        done = [False] * len(letters)
        for start in range(0, len(letters), MAX_BATCH):
            chunk = letters[start : start + MAX_BATCH]
            entries = [
                {"Id": str(start + i), "ReceiptHandle": str(letter.receipt), **extra}
                for i, letter in enumerate(chunk)
            ]
            response = call(QueueUrl=self.dead_letter_url, Entries=entries)
            for entry in response.get("Successful", []):
                done[int(entry["Id"])] = True
        return done


def _batches(items: Sequence[T], size: Callable[[T], int]) -> Iterator[list[tuple[int, T]]]:
    """(index, item) lists for SendMessageBatch: at most 10 entries and MAX_BATCH_BYTES of bodies."""
    chunk: list[tuple[int, T]] = []
    total = 0
    for index, item in enumerate(items):
        if chunk and (len(chunk) == MAX_BATCH or total + size(item) > MAX_BATCH_BYTES):
            yield chunk
            chunk, total = [], 0
        chunk.append((index, item))
        total += size(item)
    if chunk:
        yield chunk


def _sqs_attributes(attributes: Mapping[str, str]) -> dict[str, Any]:
    """String message attributes, the redrive id kept first when there are more than SQS takes."""
    ordered = [REDRIVE_ID_ATTRIBUTE, *[k for k in attributes if k != REDRIVE_ID_ATTRIBUTE]]
    return {k: {"DataType": "String", "StringValue": attributes[k]} for k in ordered[:MAX_ATTRIBUTES]}


def _letter(raw: Mapping[str, Any]) -> DeadLetter:
    system = raw.get("Attributes", {})
    attributes = {
        str(k): str(v["StringValue"])
        for k, v in raw.get("MessageAttributes", {}).items()
        if "StringValue" in v
    }
    sent = system.get("SentTimestamp")
    return DeadLetter(
        key=str(raw["MessageId"]),
        body=str(raw.get("Body", "")).encode("utf-8"),
        reason=attributes.get(REASON_ATTRIBUTE) or NATIVE_REASON,
        delivery_count=int(system["ApproximateReceiveCount"])
        if "ApproximateReceiveCount" in system
        else None,
        attributes=attributes,
        enqueued_at=int(sent) / 1000.0 if sent else None,
        receipt=str(raw["ReceiptHandle"]),
    )


def from_outputs(outputs: Mapping[str, Any]) -> SqsAdmin:
    """`queue_url`, `region`, `dead_letter_queue` (its name) and `agent_group` from the stack.

    Credentials are boto3's usual chain (the operator's profile or environment); an endpoint
    override (moto, LocalStack) is boto3's own AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_SQS."""
    import boto3

    queue_url, region, dead_letter_name = require(outputs, "aws", "queue_url", "region", "dead_letter_queue")
    client = make_client(region)
    dead_letter_url = str(client.get_queue_url(QueueName=dead_letter_name)["QueueUrl"])
    return SqsAdmin(
        SqsBackend(client, queue_url, dead_letter_url=dead_letter_url),
        dead_letter_url,
        autoscaling=boto3.client("autoscaling", region_name=region),
        cloudwatch=boto3.client("cloudwatch", region_name=region),
        group_name=str(outputs.get("agent_group") or ""),
        endpoint_override=bool(os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_SQS")),
    )
