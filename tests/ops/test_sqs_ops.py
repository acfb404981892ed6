"""The operator commands on SQS, against moto's server (boto3 over HTTP, AWS_ENDPOINT_URL set as an
operator would for an emulator), and the message-move task against botocore's Stubber (moto has
no StartMessageMoveTask)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from agentfleet.agent.backends.admin import REDRIVE_ID_ATTRIBUTE, open_admin
from agentfleet.agent.backends.admin_sqs import NATIVE_REASON, SqsAdmin
from agentfleet.agent.backends.sqs import SqsBackend
from agentfleet.ops.redrive import Journal, Selection, redrive
from tests.ops.helpers import Interrupted, StopAfter, invoke, write_outputs
from tests.runtime.peers import MotoServer

pytestmark = pytest.mark.peer

REGION = "us-east-1"


@pytest.fixture
def fleet(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """A work queue whose redrive policy sends to a DLQ after 2 receives, an Auto Scaling group of
    two agents (one busy: protected from scale-in), and the stack outputs describing them."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    sqs: Any = boto3.client("sqs", region_name=REGION)
    suffix = uuid.uuid4().hex[:8]
    dlq_name, queue_name, group = f"fleet-{suffix}-dlq", f"fleet-{suffix}-queue", f"fleet-{suffix}-agents"
    dlq_url = sqs.create_queue(QueueName=dlq_name)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    queue_url = sqs.create_queue(QueueName=queue_name, Attributes={"RedrivePolicy": policy})["QueueUrl"]

    ec2: Any = boto3.client("ec2", region_name=REGION)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    autoscaling: Any = boto3.client("autoscaling", region_name=REGION)
    autoscaling.create_launch_configuration(
        LaunchConfigurationName=group, ImageId=image, InstanceType="t3.micro"
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=group,
        LaunchConfigurationName=group,
        MinSize=0,
        MaxSize=4,
        DesiredCapacity=2,
        AvailabilityZones=[f"{REGION}a"],
    )
    instances = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][
        0
    ]["Instances"]
    autoscaling.set_instance_protection(
        InstanceIds=[instances[0]["InstanceId"]], AutoScalingGroupName=group, ProtectedFromScaleIn=True
    )
    outputs = {
        "cloud": "aws",
        "queue": queue_name,
        "dead_letter_queue": dlq_name,
        "state_table": None,
        "bucket": None,
        "agent_group": group,
        "queue_url": queue_url,
        "region": REGION,
    }
    return {
        "sqs": sqs,
        "queue_url": queue_url,
        "dlq_url": dlq_url,
        "outputs": outputs,
        "path": write_outputs(tmp_path / "outputs.json", outputs),
        "backend": SqsBackend(sqs, queue_url, dead_letter_url=dlq_url, visibility_timeout=30),
    }


def runtime_dead_letter(backend: SqsBackend, body: str, reason: str) -> None:
    """A handler's permanent failure, dead-lettered by the runtime's own backend."""
    backend.send(body.encode(), {"tenant": "acme"})
    (message,) = backend.receive(1, 1)
    backend.dead_letter(message, reason)


def native_dead_letter(fleet: dict[str, Any], body: str) -> None:
    """A message received twice and never deleted: SQS moves it (maxReceiveCount 2)."""
    sqs, url = fleet["sqs"], fleet["queue_url"]
    sqs.send_message(QueueUrl=url, MessageBody=body)
    for _ in range(2):
        assert sqs.receive_message(QueueUrl=url, VisibilityTimeout=0, WaitTimeSeconds=1)["Messages"]
    sqs.receive_message(QueueUrl=url, VisibilityTimeout=0, WaitTimeSeconds=1)  # the move happens here


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message in a queue (received and deleted), with its attributes."""
    found: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            return found
        found.extend(batch)
        for m in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_status_counts_agents_and_reasons(fleet: dict[str, Any]) -> None:
    runtime_dead_letter(fleet["backend"], '{"order": 42}', "KeyError: customer")
    native_dead_letter(fleet, '{"order": 7}')
    fleet["backend"].send(b'{"order": 1}')
    result = invoke("status", "--outputs", fleet["path"], "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["waiting"], data["in_flight"], data["dead_lettered"]) == (1, 0, 2)
    assert (data["agents_desired"], data["agents_in_service"], data["agents_busy"]) == (2, 2, 1)
    assert set(data["dead_letter_reasons"]) == {"KeyError: customer", NATIVE_REASON}
    assert data["oldest_message_age_seconds"] is None  # moto's CloudWatch has no SQS datapoints
    # Looking did not take the dead letters away.
    assert json.loads(invoke("status", "--outputs", fleet["path"], "--json").output)["dead_lettered"] == 2


def test_dlq_list_show_and_filtered_redrive(fleet: dict[str, Any], tmp_path: Path) -> None:
    for i in range(3):
        runtime_dead_letter(fleet["backend"], json.dumps({"order": i}), "TimeoutError: vendor")
    native_dead_letter(fleet, '{"order": 9}')
    listed = json.loads(invoke("dlq", "list", "--outputs", fleet["path"], "--json").output)
    assert sorted(d["reason"] for d in listed) == sorted(["TimeoutError: vendor"] * 3 + [NATIVE_REASON])
    native = next(d for d in listed if d["reason"] == NATIVE_REASON)
    shown = json.loads(invoke("dlq", "show", native["id"], "--outputs", fleet["path"]).output)
    assert shown["body"] == {"order": 9}

    result = invoke(
        "dlq", "redrive", "--outputs", fleet["path"], "--reason", "timeout", "--journal-dir", str(tmp_path)
    )
    assert result.exit_code == 0 and "redrove 3" in result.output, result.output
    copies = drain(fleet["sqs"], fleet["queue_url"])
    assert sorted(json.loads(m["Body"])["order"] for m in copies) == [0, 1, 2]
    for m in copies:
        attributes = m["MessageAttributes"]
        assert attributes["tenant"]["StringValue"] == "acme"
        assert REDRIVE_ID_ATTRIBUTE in attributes and "agentfleet-dead-letter-reason" not in attributes
    left = drain(fleet["sqs"], fleet["dlq_url"])
    assert [json.loads(m["Body"]) for m in left] == [{"order": 9}]


def test_redrive_all_on_an_emulator_without_move_tasks_goes_message_by_message(
    fleet: dict[str, Any], tmp_path: Path
) -> None:
    for i in range(12):
        runtime_dead_letter(fleet["backend"], json.dumps({"order": i}), "boom")
    dry = invoke("dlq", "redrive", "--outputs", fleet["path"], "--dry-run")
    assert "would redrive 12" in dry.output
    result = invoke("dlq", "redrive", "--outputs", fleet["path"], "--journal-dir", str(tmp_path))
    assert result.exit_code == 0 and "redrove 12 dead letter(s)\n" in result.output, result.output
    assert sorted(json.loads(m["Body"])["order"] for m in drain(fleet["sqs"], fleet["queue_url"])) == list(
        range(12)
    )


def test_an_interrupted_redrive_rerun_loses_and_duplicates_nothing(
    fleet: dict[str, Any], tmp_path: Path
) -> None:
    bodies = [json.dumps({"order": i}) for i in range(25)]
    for body in bodies:
        runtime_dead_letter(fleet["backend"], body, "TimeoutError")
    admin = open_admin(fleet["outputs"])
    assert isinstance(admin, SqsAdmin)
    # Cut off once the second batch's copies are confirmed in the work queue, before their dead
    # letters are removed: 20 copies exist, 10 of them still also in the dead-letter queue.
    with pytest.raises(Interrupted):
        redrive(StopAfter(admin, batches=1), Selection(reason="timeout"), Journal.for_queue(tmp_path, "dlq"))  # type: ignore[arg-type]
    assert list(tmp_path.glob("*.jsonl")), "the confirmed-but-not-removed keys are journalled"
    rerun = redrive(
        open_admin(fleet["outputs"]), Selection(reason="timeout"), Journal.for_queue(tmp_path, "dlq")
    )
    assert (rerun.moved, rerun.resumed, rerun.left) == (5, 10, 0)
    copies = drain(fleet["sqs"], fleet["queue_url"])
    assert sorted(m["Body"] for m in copies) == sorted(bodies), "each message exactly once, none lost"
    assert drain(fleet["sqs"], fleet["dlq_url"]) == []
    assert not list(tmp_path.glob("*.jsonl"))


def test_a_copy_the_work_queue_refused_leaves_its_dead_letter_in_place(
    fleet: dict[str, Any], tmp_path: Path
) -> None:
    runtime_dead_letter(fleet["backend"], '{"order": 1}', "boom")
    admin = open_admin(fleet["outputs"])
    admin.requeue = lambda letters: [False] * len(letters)  # type: ignore[method-assign]
    outcome = redrive(admin, Selection(reason="boom"), Journal.for_queue(tmp_path, "dlq"))
    assert (outcome.moved, outcome.left) == (0, 1)
    assert [m["Body"] for m in drain(fleet["sqs"], fleet["dlq_url"])] == ['{"order": 1}']


def test_send_in_batches(fleet: dict[str, Any], tmp_path: Path) -> None:
    lines = "".join(json.dumps({"task": i}) + "\n" for i in range(23))
    path = tmp_path / "tasks.jsonl"
    path.write_text(lines)
    sent = invoke("send", "--outputs", fleet["path"], str(path))
    assert sent.exit_code == 0 and "sent 23" in sent.output, sent.output
    assert sorted(json.loads(m["Body"])["task"] for m in drain(fleet["sqs"], fleet["queue_url"])) == list(
        range(23)
    )


# -- the message-move task, on botocore's Stubber ----------------------------------------------

DLQ_ARN = "arn:aws:sqs:us-east-1:123456789012:fleet-dlq"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:fleet-queue"
DLQ_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/fleet-dlq"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/fleet-queue"


def stubbed(endpoint_override: bool = False) -> tuple[SqsAdmin, Stubber]:
    client = boto3.client(
        "sqs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x", endpoint_url=None
    )
    stubber = Stubber(client)
    for url, arn in ((DLQ_URL, DLQ_ARN), (QUEUE_URL, QUEUE_ARN)):
        stubber.add_response(
            "get_queue_attributes",
            {"Attributes": {"QueueArn": arn}},
            {"QueueUrl": url, "AttributeNames": ["QueueArn"]},
        )
    admin = SqsAdmin(
        SqsBackend(client, QUEUE_URL, dead_letter_url=DLQ_URL),
        DLQ_URL,
        sleep=lambda _: None,
        endpoint_override=endpoint_override,
    )
    return admin, stubber


def task(status: str, moved: int, total: int) -> dict[str, Any]:
    return {
        "Results": [
            {
                "TaskHandle": "h",
                "Status": status,
                "SourceArn": DLQ_ARN,
                "DestinationArn": QUEUE_ARN,
                "ApproximateNumberOfMessagesMoved": moved,
                "ApproximateNumberOfMessagesToMove": total,
            }
        ]
    }


def test_redrive_all_starts_one_move_task_to_the_work_queue_and_follows_it(tmp_path: Path) -> None:
    admin, stubber = stubbed()
    listing = {"SourceArn": DLQ_ARN, "MaxResults": 1}
    stubber.add_response("list_message_move_tasks", {"Results": []}, listing)
    stubber.add_response(
        "start_message_move_task", {"TaskHandle": "h"}, {"SourceArn": DLQ_ARN, "DestinationArn": QUEUE_ARN}
    )
    stubber.add_response("list_message_move_tasks", task("RUNNING", 3, 10), listing)
    stubber.add_response("list_message_move_tasks", task("COMPLETED", 10, 10), listing)
    seen: list[tuple[int, int | None]] = []
    with stubber:
        outcome = redrive(
            admin, Selection(), Journal.for_queue(tmp_path, "dlq"), lambda d, t: seen.append((d, t))
        )
    stubber.assert_no_pending_responses()
    assert (outcome.moved, outcome.by_broker) == (10, True) and seen == [(3, 10), (10, 10)]
    assert not list(tmp_path.glob("*.jsonl")), "the broker moved everything: no journal left behind"


def test_a_move_task_already_running_is_followed_not_started_twice() -> None:
    admin, stubber = stubbed()
    listing = {"SourceArn": DLQ_ARN, "MaxResults": 1}
    stubber.add_response("list_message_move_tasks", task("RUNNING", 4, 10), listing)
    stubber.add_response("list_message_move_tasks", task("COMPLETED", 10, 10), listing)
    with stubber:
        assert admin.move_all_dead_letters(lambda d, t: None) == 10
    stubber.assert_no_pending_responses()


def test_a_refused_move_task_on_aws_is_an_error_not_a_silent_fallback() -> None:
    admin, stubber = stubbed(endpoint_override=False)
    stubber.add_response("list_message_move_tasks", {"Results": []}, {"SourceArn": DLQ_ARN, "MaxResults": 1})
    stubber.add_client_error("start_message_move_task", "AccessDenied", http_status_code=403)
    with stubber, pytest.raises(ClientError):
        admin.move_all_dead_letters(lambda d, t: None)


def test_send_batches_hold_at_most_ten_entries_and_256_kib() -> None:
    from agentfleet.agent.backends.admin_sqs import _batches

    assert [len(c) for c in _batches([b"x"] * 25, len)] == [10, 10, 5]
    assert [len(c) for c in _batches([b"x" * 100_000] * 5, len)] == [2, 2, 1]
    assert [i for c in _batches([b"x" * 100_000] * 5, len) for i, _ in c] == [0, 1, 2, 3, 4]
