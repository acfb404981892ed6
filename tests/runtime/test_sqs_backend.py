"""The SQS backend against moto's server mode: boto3 over HTTP to a real moto process."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from agentfleet.agent.backends.base import BackendError, LeaseLost, Message
from agentfleet.agent.backends.sqs import (
    MAX_VISIBILITY_SECONDS,
    ORIGINAL_ID_ATTRIBUTE,
    REASON_ATTRIBUTE,
    SqsBackend,
    SqsReceipt,
    clamp_visibility,
    from_settings,
)
from agentfleet.agent.settings import Settings
from tests.runtime.contract import BackendContract
from tests.runtime.peers import MotoServer

pytestmark = pytest.mark.peer


class _Recorder:
    """Wraps a boto3 client and records the keyword arguments of each call."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        if not callable(target):
            return target

        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return target(**kwargs)

        return call


def make_queues(server: MotoServer, max_receive_count: int = 3) -> tuple[Any, str, str]:
    sqs: Any = server.client("sqs")
    suffix = uuid.uuid4().hex[:8]
    dlq_url = sqs.create_queue(QueueName=f"dlq-{suffix}")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]
    dlq_arn = attrs["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=f"work-{suffix}",
        Attributes={
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
            )
        },
    )["QueueUrl"]
    return sqs, queue_url, dlq_url


def make_backend(
    server: MotoServer, visibility_timeout: int = 30, max_receive_count: int = 3, with_dlq_url: bool = True
) -> tuple[SqsBackend, Any, str]:
    sqs, queue_url, dlq_url = make_queues(server, max_receive_count)
    backend = SqsBackend(
        _Recorder(sqs),
        queue_url,
        dead_letter_url=dlq_url if with_dlq_url else "",
        visibility_timeout=visibility_timeout,
    )
    return backend, sqs, dlq_url


class TestSqsBackendContract(BackendContract):
    """The shared contract on a real moto server, with SQS's native redrive to a dead-letter queue."""

    lease_slack = 2.0
    #: SQS accepts a DeleteMessage with an earlier receipt handle (it "succeeds"): documented.
    detects_stale_receipt = False

    @pytest.fixture(autouse=True)
    def _server(self, moto_server: MotoServer) -> None:
        self.server = moto_server

    def make_backend(self, visibility_timeout: int, max_receive_count: int) -> SqsBackend:
        backend, _, _ = make_backend(self.server, visibility_timeout, max_receive_count)
        return backend


def test_receive_uses_long_polling_and_batches_of_at_most_ten(moto_server: MotoServer) -> None:
    backend, _, _ = make_backend(moto_server)
    for i in range(12):
        backend.send(f"m{i}".encode())
    got = backend.receive(max_messages=50, wait_seconds=60)
    name, kwargs = [c for c in backend.client.calls if c[0] == "receive_message"][-1]
    assert kwargs["MaxNumberOfMessages"] == 10
    assert kwargs["WaitTimeSeconds"] == 20
    assert kwargs["VisibilityTimeout"] == 30
    assert 1 <= len(got) <= 10
    assert all(m.delivery_count == 1 for m in got)
    assert all(m.enqueued_at is not None and abs(m.enqueued_at - time.time()) < 60 for m in got)


def test_delivery_count_is_approximate_receive_count(moto_server: MotoServer) -> None:
    backend, _, _ = make_backend(moto_server, visibility_timeout=30, max_receive_count=5)
    backend.send(b"again")
    first = backend.receive(1, 0)[0]
    backend.release(first)
    second = backend.receive(1, 0)[0]
    assert first.delivery_count == 1
    assert second.id == first.id and second.delivery_count == 2


def test_attributes_round_trip(moto_server: MotoServer) -> None:
    backend, _, _ = make_backend(moto_server)
    backend.send(b"{}", {"tenant": "acme"})
    (message,) = backend.receive(1, 0)
    assert message.attributes == {"tenant": "acme"}
    assert message.body == b"{}"


def test_permanent_failure_goes_to_dead_letter_queue_with_reason(moto_server: MotoServer) -> None:
    backend, sqs, dlq_url = make_backend(moto_server)
    backend.send(b"poison", {"tenant": "acme"})
    (message,) = backend.receive(1, 0)
    backend.dead_letter(message, "PermanentError: bad input")
    dead = sqs.receive_message(QueueUrl=dlq_url, MessageAttributeNames=["All"], WaitTimeSeconds=0)["Messages"]
    assert [d["Body"] for d in dead] == ["poison"]
    attrs = dead[0]["MessageAttributes"]
    assert attrs[REASON_ATTRIBUTE]["StringValue"] == "PermanentError: bad input"
    assert attrs[ORIGINAL_ID_ATTRIBUTE]["StringValue"] == message.id
    assert attrs["tenant"]["StringValue"] == "acme"
    # ... and the original is gone from the work queue for good.
    assert backend.stats().waiting == 0 and backend.stats().in_flight == 0


def test_dead_letter_url_falls_back_to_redrive_policy_target(moto_server: MotoServer) -> None:
    backend, sqs, dlq_url = make_backend(moto_server, with_dlq_url=False)
    assert backend.dead_letter_url() == dlq_url


def test_dead_letter_without_any_target_is_a_clear_error(moto_server: MotoServer) -> None:
    sqs: Any = moto_server.client("sqs")
    url = sqs.create_queue(QueueName=f"bare-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    backend = SqsBackend(sqs, url)
    backend.send(b"x")
    (message,) = backend.receive(1, 0)
    with pytest.raises(BackendError, match="AGENTFLEET_DEAD_LETTER_QUEUE"):
        backend.dead_letter(message, "nowhere")


def test_native_redrive_dead_letters_after_max_receive_count(moto_server: MotoServer) -> None:
    backend, sqs, dlq_url = make_backend(moto_server, max_receive_count=2)
    backend.send(b"fails")
    for expected in (1, 2):
        (message,) = backend.receive(1, 0)
        assert message.delivery_count == expected
        backend.release(message)
    assert backend.receive(1, 0) == []
    assert backend.stats().dead_lettered == 1


def test_stats_from_queue_attributes(moto_server: MotoServer) -> None:
    backend, _, _ = make_backend(moto_server)
    for i in range(3):
        backend.send(str(i).encode())
    backend.receive(1, 0)
    stats = backend.stats()
    assert (stats.waiting, stats.in_flight, stats.dead_lettered) == (2, 1, 0)


def test_visibility_is_clamped_to_twelve_hours(moto_server: MotoServer) -> None:
    assert clamp_visibility(10**6) == MAX_VISIBILITY_SECONDS
    assert clamp_visibility(-5) == 0
    backend, _, _ = make_backend(moto_server, visibility_timeout=50_000)
    assert backend.visibility_timeout == MAX_VISIBILITY_SECONDS


def test_extend_lease_changes_visibility_and_refuses_a_lapsed_lease(moto_server: MotoServer) -> None:
    backend, _, _ = make_backend(moto_server, visibility_timeout=1)
    backend.send(b"slow")
    (message,) = backend.receive(1, 0)
    backend.extend_lease(message, 3)
    name, kwargs = backend.client.calls[-1]
    assert name == "change_message_visibility" and kwargs["VisibilityTimeout"] == 3
    time.sleep(1.2)
    assert backend.receive(1, 0) == []  # still leased: the extension counted
    time.sleep(2.0)
    with pytest.raises(LeaseLost):
        backend.extend_lease(message, 3)


def test_connection_errors_become_backend_errors() -> None:
    from agentfleet.agent.backends.sqs import make_client

    client = make_client("us-east-1", "http://127.0.0.1:9")  # nothing listens on the discard port
    backend = SqsBackend(client, "http://127.0.0.1:9/123456789012/q")
    with pytest.raises(BackendError, match="unreachable"):
        backend.ping()


def test_from_settings_reads_the_contract(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    _, queue_url, dlq_url = make_queues(moto_server)

    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", moto_server.endpoint_url)
    settings = Settings(
        backend="sqs", queue=queue_url, dead_letter_queue=dlq_url, visibility_timeout=77, region="us-east-1"
    )
    backend = from_settings(settings)
    assert backend.queue_url == queue_url
    assert backend.dead_letter_url() == dlq_url
    assert backend.visibility_timeout == 77
    backend.ping()


def test_importing_the_module_loads_no_cloud_sdk() -> None:
    """The SDK is imported when the backend is opened, never by importing the runtime."""
    from tests.runtime.peers import sdks_loaded_by_import

    assert sdks_loaded_by_import("agentfleet.agent.backends.sqs") == []


def test_the_worker_over_sqs_on_moto(moto_server: MotoServer) -> None:
    from tests.runtime.peers import assert_scenario, run_worker_scenario

    backend, sqs, dlq_url = make_backend(moto_server, visibility_timeout=2, max_receive_count=3)
    assert_scenario(run_worker_scenario(backend, visibility_timeout=2, max_receive_count=3))
    dead = sqs.receive_message(QueueUrl=dlq_url, MessageAttributeNames=["All"], WaitTimeSeconds=0)["Messages"]
    assert [d["Body"] for d in dead] == ["poison"]
    assert (
        dead[0]["MessageAttributes"][REASON_ATTRIBUTE]["StringValue"]
        == "PermanentError: order 42 has no customer"
    )
    assert backend.stats() == type(backend.stats())(waiting=0, in_flight=0, dead_lettered=0)


# -- batched deletes ---------------------------------------------------------------------------


def test_ack_batch_deletes_ten_per_call(moto_server: MotoServer) -> None:
    backend, _, _ = make_backend(moto_server)
    for i in range(12):
        backend.send(f"m{i}".encode())
    got: list[Message] = []
    while len(got) < 12:
        got.extend(backend.receive(10, 1))
    assert backend.ack_batch(got) == [None] * 12
    batches = [kwargs["Entries"] for name, kwargs in backend.client.calls if name == "delete_message_batch"]
    assert [len(entries) for entries in batches] == [10, 2]
    assert not [c for c in backend.client.calls if c[0] == "delete_message"]
    assert backend.stats() == type(backend.stats())(waiting=0, in_flight=0, dead_lettered=0)


def test_ack_batch_reports_a_rejected_receipt_as_lease_lost_for_that_entry_only(
    moto_server: MotoServer,
) -> None:
    backend, _, _ = make_backend(moto_server)
    for body in (b"a", b"b"):
        backend.send(body)
    got: list[Message] = []
    while len(got) < 2:
        got.extend(backend.receive(10, 1))
    stranger = Message(id="x", body=b"", delivery_count=1, receipt=SqsReceipt("not-a-receipt-handle", 0.0))
    results = backend.ack_batch([got[0], stranger, got[1]])
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], LeaseLost) and "ReceiptHandleIsInvalid" in str(results[1])
    assert backend.stats().in_flight == 0 and backend.stats().waiting == 0


class _BatchAnswers:
    """A client whose DeleteMessageBatch answers are scripted (server-side entry failures and
    missing entries cannot be provoked on moto)."""

    def __init__(self, response: dict[str, Any]) -> None:
        self.response = response

    def delete_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        return self.response


def test_ack_batch_marks_server_faults_and_unanswered_entries_for_retry() -> None:
    response = {
        "Successful": [{"Id": "0"}],
        "Failed": [
            {"Id": "1", "SenderFault": False, "Code": "InternalError", "Message": "try again"},
            {"Id": "2", "SenderFault": True, "Code": "AccessDenied", "Message": "no"},
        ],
    }  # and no word about entry 3
    backend = SqsBackend(_BatchAnswers(response), "http://127.0.0.1:9/123456789012/q")
    messages = [
        Message(id=str(i), body=b"", delivery_count=1, receipt=SqsReceipt(f"h{i}", 0.0)) for i in range(4)
    ]
    results = backend.ack_batch(messages)
    assert results[0] is None
    assert isinstance(results[1], BackendError)
    assert results[2] is not None and not isinstance(results[2], (BackendError, LeaseLost)), "not retried"
    assert isinstance(results[3], BackendError)


def test_the_worker_over_sqs_deletes_in_batches_and_drain_sends_the_last_ones(
    moto_server: MotoServer,
) -> None:
    from agentfleet.agent.middleware.retries import Retries
    from tests.runtime.harness import make_worker, running, sample, wait_until

    backend, _, _ = make_backend(moto_server, visibility_timeout=30)
    for i in range(25):
        backend.send(f"m{i}".encode())
    handled: list[bytes] = []
    run = make_worker(backend, lambda m, ctx: handled.append(m.body), visibility_timeout=30, wait_seconds=1.0)
    retries = run.worker.middleware[-1]
    assert isinstance(retries, Retries) and retries.acks is not None
    retries.acks.max_delay = 300.0  # full batches go out at once; the last 5 only with the drain
    with running(run):
        wait_until(lambda: len(handled) == 25, 30, "25 messages handled")
        wait_until(
            lambda: sample(run.metrics, "agentfleet_messages_succeeded_total") == 20, 10, "two batches"
        )
        time.sleep(0.5)
        assert sample(run.metrics, "agentfleet_messages_succeeded_total") == 20, "5 acks wait for their batch"
        assert backend.stats().in_flight == 5, "... and their messages are still ours"
    (report,) = run.report
    assert report.clean
    assert sample(run.metrics, "agentfleet_messages_succeeded_total") == 25
    batches = [
        len(kwargs["Entries"]) for name, kwargs in backend.client.calls if name == "delete_message_batch"
    ]
    assert batches == [10, 10, 5]
    assert "delete_message" not in [name for name, _ in backend.client.calls]
    assert backend.stats() == type(backend.stats())(waiting=0, in_flight=0, dead_lettered=0)


def test_sigterm_to_an_agent_over_sqs_loses_nothing_and_logs_no_success_before_the_delete(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A real `agentfleet agent run` over moto, SIGTERMed mid-work: acks waiting for their batch
    are sent before it exits, every message is either deleted (and logged `succeeded`) or visible
    again, and no message logged `succeeded` is still in the queue."""
    import signal

    from agentfleet.agent import contract
    from tests.runtime.harness import agent_env, start_agent, wait_until

    backend, sqs, _ = make_backend(moto_server, visibility_timeout=60)
    bodies = [f"job-{i}" for i in range(60)]
    for body in bodies:
        backend.send(body.encode())
    env = agent_env(
        tmp_path / "unused.db",
        extra={
            contract.BACKEND: "sqs",
            contract.QUEUE: backend.queue_url,
            contract.REGION: moto_server.region,
            contract.HANDLER: "tests.runtime.handlers:slow_handler",
            contract.CONCURRENCY: 3,
            contract.VISIBILITY_TIMEOUT: 60,  # a message neither deleted nor given back stays hidden
            contract.DRAIN_TIMEOUT: 10,
            "DRAIN_TEST_SECONDS": 0.05,
            "RUNTIME_TEST_LOG": tmp_path / "runs.db",
            "AWS_ENDPOINT_URL_SQS": moto_server.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        },
    )
    log = tmp_path / "agentfleet.agent.log"

    def succeeded() -> set[str]:
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        return {
            e["message_id"] for e in lines if e.get("event") == "message" and e.get("result") == "succeeded"
        }

    agent = start_agent(env, log)
    try:
        wait_until(lambda: log.exists() and len(succeeded()) >= 15, 60, "some work done")
    finally:
        agent.send_signal(signal.SIGTERM)
    assert agent.wait(timeout=20) == 0, log.read_text()[-2000:]
    done = succeeded()
    assert backend.stats().in_flight == 0, "every held message was deleted or given back"
    left: set[str] = set()
    while got := sqs.receive_message(QueueUrl=backend.queue_url, MaxNumberOfMessages=10).get("Messages"):
        left.update(m["MessageId"] for m in got)
    assert left, "the SIGTERM landed mid-work: some messages were given back"
    assert not done & left, "a message logged as succeeded was not deleted"
    assert len(done) + len(left) == len(bodies), "nothing lost"


# -- settling failures (issue 15, finding 5) ----------------------------------------------------


class _FailsDeleteOnce(_Recorder):
    """The first DeleteMessage hits a server error after SQS did nothing."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.failed = False

    def __getattr__(self, name: str) -> Any:
        call = super().__getattr__(name)
        if name != "delete_message":
            return call

        def delete(**kwargs: Any) -> Any:
            if not self.failed:
                self.failed = True
                from botocore.exceptions import ClientError

                error = {"Error": {"Code": "InternalError", "Message": "try again"}}
                raise ClientError({**error, "ResponseMetadata": {"HTTPStatusCode": 500}}, "DeleteMessage")
            return call(**kwargs)

        return delete


def _dead_letter_through_retries(backend: SqsBackend) -> Any:
    from agentfleet.agent.handler import PermanentError
    from agentfleet.agent.middleware.base import RAISED, Outcome
    from agentfleet.agent.middleware.retries import Retries

    (message,) = backend.receive(1, 0)
    retries = Retries(backend, 3, settle_pause=0.0, batch_acks=False)
    return retries.process(message, lambda m: Outcome(RAISED, error=PermanentError("bad input")))


def test_a_failed_delete_after_the_dead_letter_send_retries_only_the_delete(moto_server: MotoServer) -> None:
    sqs, queue_url, dlq_url = make_queues(moto_server)
    client = _FailsDeleteOnce(sqs)
    backend = SqsBackend(client, queue_url, dead_letter_url=dlq_url, visibility_timeout=30)
    backend.send(b"poison")
    outcome = _dead_letter_through_retries(backend)
    assert client.failed and outcome.result == "dead_lettered"
    answer = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    dead = answer.get("Messages", [])
    assert [d["Body"] for d in dead] == ["poison"], "one copy in the dead-letter queue, not two"
    assert backend.stats().waiting == 0 and backend.stats().in_flight == 0


def test_a_dead_letter_queue_that_does_not_exist_is_a_settle_failure_with_its_reason(
    moto_server: MotoServer,
) -> None:
    sqs, queue_url, _ = make_queues(moto_server)
    missing = queue_url.rsplit("/", 1)[0] + "/no-such-dlq"
    backend = SqsBackend(sqs, queue_url, dead_letter_url=missing, visibility_timeout=30)
    backend.send(b"poison")
    outcome = _dead_letter_through_retries(backend)
    assert outcome.result == "settle_failed"
    assert outcome.reason and "dead_lettered but" in outcome.reason and "NonExistentQueue" in outcome.reason


def test_max_receive_count_is_enforced_on_a_queue_without_a_redrive_policy(moto_server: MotoServer) -> None:
    """A queue the user brought, with no redrive policy: the runtime dead-letters at
    AGENTFLEET_MAX_RECEIVE_COUNT itself (issue 15, finding 7)."""
    from tests.runtime.harness import make_worker, running, wait_until

    sqs: Any = moto_server.client("sqs")
    suffix = uuid.uuid4().hex[:8]
    queue_url = sqs.create_queue(QueueName=f"bare-{suffix}")["QueueUrl"]
    dlq_url = sqs.create_queue(QueueName=f"bare-dlq-{suffix}")["QueueUrl"]
    backend = SqsBackend(sqs, queue_url, dead_letter_url=dlq_url, visibility_timeout=2)
    assert backend.native_dead_letter is False
    backend.send(b"always fails")
    deliveries: list[int] = []

    def fails(message: Message, ctx: Any) -> None:
        deliveries.append(message.delivery_count)
        raise ValueError("upstream said no")

    def dead() -> list[Any]:
        answer = sqs.receive_message(QueueUrl=dlq_url, MessageAttributeNames=["All"], WaitTimeSeconds=0)
        return list(answer.get("Messages", []))

    found: list[Any] = []
    run = make_worker(backend, fails, visibility_timeout=2, max_receive_count=2, min_backoff=1, max_backoff=1)
    with running(run):
        wait_until(lambda: bool(found.extend(dead()) or found), 30, "the dead letter")
    assert deliveries == [1, 2]
    reason = found[0]["MessageAttributes"][REASON_ATTRIBUTE]["StringValue"]
    assert "failed 2 deliveries (max_receive_count=2)" in reason


def test_a_queue_with_a_redrive_policy_dead_letters_natively(moto_server: MotoServer) -> None:
    backend, _, _ = make_backend(moto_server)
    assert backend.native_dead_letter is True
