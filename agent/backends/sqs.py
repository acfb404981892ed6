"""Amazon SQS backend (boto3).

SQS leases are visibility timeouts: a receive hides the message for `VisibilityTimeout` seconds,
`ChangeMessageVisibility` moves the end of that window (extend_lease) or ends it early (release),
and `DeleteMessage` acks — or `DeleteMessageBatch`, ten at a time (`ack_batch`, which the runtime's
ack batcher uses: a tenth of the delete requests, which is also what SQS bills). Dead-lettering after
`maxReceiveCount` deliveries is native (the queue's redrive policy); a handler's permanent
failure is sent to the dead-letter queue by us, with the reason as a message attribute, and the
original deleted.

Limits honoured here (SQS developer guide): a receive returns at most 10 messages, long polling
waits at most 20 s, and a visibility timeout is 0-43,200 s (12 h) counted from the first receipt.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from agentfleet.agent.backends.base import BackendError, LeaseLost, Message, QueueBackend, QueueStats

#: SQS hard limits.
MAX_BATCH = 10
MAX_WAIT_SECONDS = 20
MAX_VISIBILITY_SECONDS = 43_200

#: Message attribute that carries a permanent failure's reason on the dead-letter queue.
REASON_ATTRIBUTE = "agentfleet-dead-letter-reason"
#: Original message id, kept on the dead-letter copy so an operator can trace it.
ORIGINAL_ID_ATTRIBUTE = "agentfleet-original-message-id"

#: Error codes that mean "this receipt no longer holds the message" rather than "try again".
_LEASE_CODES = frozenset(
    {
        "ReceiptHandleIsInvalid",
        "InvalidParameterValue",
        "MessageNotInflight",
        "AWS.SimpleQueueService.MessageNotInflight",
        "InvalidReceiptHandle",
    }
)
#: Error codes worth a retry by the caller: throttling and server-side trouble.
_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestThrottled",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "KmsThrottled",
        "AWS.SimpleQueueService.ServiceUnavailable",
    }
)

if TYPE_CHECKING:
    from agentfleet.agent.settings import Settings

T = TypeVar("T")


@dataclass
class SqsReceipt:
    """The handle of one delivery and when our lease on it ends (by our clock)."""

    handle: str
    lease_ends: float
    #: The dead-letter copy was sent: a retry of `dead_letter` (its delete failed) only deletes.
    dead_letter_sent: bool = False


def clamp_visibility(seconds: float) -> int:
    """SQS accepts 0-43,200 s; anything outside is clamped, never sent."""
    return max(0, min(MAX_VISIBILITY_SECONDS, int(seconds)))


class SqsBackend(QueueBackend):
    """One SQS queue (and optionally its dead-letter queue) through a boto3 SQS client."""

    name = "sqs"
    #: DeleteMessageBatch takes 10 entries.
    max_ack_batch = MAX_BATCH

    def __init__(
        self,
        client: Any,
        queue_url: str,
        *,
        dead_letter_url: str = "",
        visibility_timeout: int = 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not queue_url:
            raise ValueError("AGENTFLEET_QUEUE is empty: the SQS backend needs the queue URL")
        self.client = client
        self.queue_url = queue_url
        self._dead_letter_url = dead_letter_url
        self.visibility_timeout = clamp_visibility(visibility_timeout)
        self._clock = clock
        self._redrive: bool | None = None

    @property
    def native_dead_letter(self) -> bool:  # type: ignore[override]
        """True when the queue has a redrive policy (SQS dead-letters after its maxReceiveCount).
        A queue the user brought may have none: then the runtime enforces
        AGENTFLEET_MAX_RECEIVE_COUNT itself. Asked once; a failed question is asked again later
        and meanwhile the runtime enforces the limit."""
        if self._redrive is None:
            try:
                policy = self._attributes(self.queue_url, ["RedrivePolicy"]).get("RedrivePolicy")
            except Exception:  # the broker is unreachable right now: enforce, ask again later
                return False
            self._redrive = bool(policy)
        return self._redrive

    # -- the verbs --------------------------------------------------------------------------

    def receive(self, max_messages: int, wait_seconds: float) -> list[Message]:
        count = max(1, min(MAX_BATCH, int(max_messages)))
        wait = max(0, min(MAX_WAIT_SECONDS, int(round(wait_seconds))))
        started = self._clock()
        response = self._call(
            self.client.receive_message,
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait,
            VisibilityTimeout=self.visibility_timeout,
            MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
            MessageAttributeNames=["All"],
        )
        lease_ends = started + self.visibility_timeout
        return [self._message(raw, lease_ends) for raw in response.get("Messages", [])]

    def ack(self, message: Message) -> None:
        receipt = self._receipt(message)
        self._call(self.client.delete_message, QueueUrl=self.queue_url, ReceiptHandle=receipt.handle)

    def ack_batch(self, messages: Sequence[Message]) -> list[BaseException | None]:
        """Delete with DeleteMessageBatch, 10 per call. Per message: None once SQS confirmed it, or
        that entry's error — LeaseLost when SQS no longer accepts its receipt, BackendError for a
        server-side failure worth retrying, BackendError too for an entry SQS left unanswered.
        A failure of a whole call raises, as `ack` does."""
        results: list[BaseException | None] = [None] * len(messages)
        for start in range(0, len(messages), MAX_BATCH):
            chunk = messages[start : start + MAX_BATCH]
            entries = [
                {"Id": str(start + i), "ReceiptHandle": self._receipt(m).handle} for i, m in enumerate(chunk)
            ]
            response = self._call(self.client.delete_message_batch, QueueUrl=self.queue_url, Entries=entries)
            confirmed = {str(entry["Id"]) for entry in response.get("Successful", [])}
            failed = {str(entry["Id"]): entry for entry in response.get("Failed", [])}
            for i, message in enumerate(chunk, start):
                if str(i) in confirmed:
                    continue
                entry = failed.get(str(i))
                if entry is None:
                    results[i] = BackendError(f"SQS DeleteMessageBatch: no answer for message {message.id}")
                    continue
                code = str(entry.get("Code", ""))
                text = f"SQS {code}: {entry.get('Message', '')}"
                if code in _LEASE_CODES:
                    results[i] = LeaseLost(text)
                elif not entry.get("SenderFault", False) or code in _TRANSIENT_CODES:
                    results[i] = BackendError(text)
                else:
                    results[i] = RuntimeError(text)  # our request was wrong: retrying cannot help
        return results

    def extend_lease(self, message: Message, seconds: int) -> None:
        receipt = self._receipt(message)
        if self._clock() >= receipt.lease_ends:
            # SQS may already have handed the message to another consumer; extending with our
            # stale receipt would steal it back without telling either side.
            raise LeaseLost(f"SQS message {message.id}: visibility timeout ended before the extension")
        seconds = clamp_visibility(seconds)
        now = self._clock()
        self._call(
            self.client.change_message_visibility,
            QueueUrl=self.queue_url,
            ReceiptHandle=receipt.handle,
            VisibilityTimeout=seconds,
        )
        receipt.lease_ends = now + seconds

    def release(self, message: Message, delay_seconds: int = 0) -> None:
        receipt = self._receipt(message)
        try:
            self._call(
                self.client.change_message_visibility,
                QueueUrl=self.queue_url,
                ReceiptHandle=receipt.handle,
                VisibilityTimeout=clamp_visibility(delay_seconds),
            )
        except LeaseLost:
            # The lease already ended: the message is visible again, which is what release asks.
            pass
        receipt.lease_ends = self._clock()

    def dead_letter(self, message: Message, reason: str) -> None:
        """Send a copy with the reason to the dead-letter queue, then delete the original. A retry
        after a failed delete only deletes: sending again would leave two copies."""
        receipt = self._receipt(message)
        if receipt.dead_letter_sent:
            self.ack(message)
            return
        target = self.dead_letter_url()
        attributes: dict[str, Any] = {
            key: {"DataType": "String", "StringValue": value}
            for key, value in message.attributes.items()
            if value
        }
        attributes[REASON_ATTRIBUTE] = {"DataType": "String", "StringValue": reason[:1024] or "unspecified"}
        attributes[ORIGINAL_ID_ATTRIBUTE] = {"DataType": "String", "StringValue": message.id}
        self._call(
            self.client.send_message,
            QueueUrl=target,
            MessageBody=message.body.decode("utf-8", errors="replace"),
            MessageAttributes=dict(list(attributes.items())[-10:]),  # SQS allows 10 attributes
        )
        receipt.dead_letter_sent = True
        self.ack(message)

    def send(self, body: bytes, attributes: dict[str, str] | None = None) -> str:
        kwargs: dict[str, Any] = {"QueueUrl": self.queue_url, "MessageBody": body.decode("utf-8")}
        if attributes:
            kwargs["MessageAttributes"] = {
                key: {"DataType": "String", "StringValue": value} for key, value in attributes.items()
            }
        response = self._call(self.client.send_message, **kwargs)
        return str(response["MessageId"])

    def stats(self) -> QueueStats:
        attrs = self._attributes(
            self.queue_url, ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )
        dead: int | None = None
        try:
            dead_url = self.dead_letter_url()
        except BackendError:
            dead_url = ""
        if dead_url:
            dead_attrs = self._attributes(dead_url, ["ApproximateNumberOfMessages"])
            dead = int(dead_attrs["ApproximateNumberOfMessages"])
        return QueueStats(
            waiting=int(attrs["ApproximateNumberOfMessages"]),
            in_flight=int(attrs["ApproximateNumberOfMessagesNotVisible"]),
            dead_lettered=dead,
        )

    def ping(self) -> None:
        self._attributes(self.queue_url, ["QueueArn"])

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if close is not None:
            close()

    # -- helpers ----------------------------------------------------------------------------

    def dead_letter_url(self) -> str:
        """AGENTFLEET_DEAD_LETTER_QUEUE, or the redrive policy's target when that is empty."""
        if self._dead_letter_url:
            return self._dead_letter_url
        policy = self._attributes(self.queue_url, ["RedrivePolicy"]).get("RedrivePolicy")
        if not policy:
            raise BackendError(
                f"SQS queue {self.queue_url} has no redrive policy and AGENTFLEET_DEAD_LETTER_QUEUE is "
                "empty: there is nowhere to dead-letter to"
            )
        import json

        arn = str(json.loads(policy)["deadLetterTargetArn"])
        _, _, _, _, account, queue_name = arn.split(":", 5)
        response = self._call(self.client.get_queue_url, QueueName=queue_name, QueueOwnerAWSAccountId=account)
        self._dead_letter_url = str(response["QueueUrl"])
        return self._dead_letter_url

    def _attributes(self, url: str, names: list[str]) -> dict[str, str]:
        response = self._call(self.client.get_queue_attributes, QueueUrl=url, AttributeNames=names)
        return dict(response.get("Attributes", {}))

    def _message(self, raw: dict[str, Any], lease_ends: float) -> Message:
        system = raw.get("Attributes", {})
        attributes = {
            key: str(value.get("StringValue", ""))
            for key, value in raw.get("MessageAttributes", {}).items()
            if "StringValue" in value
        }
        sent = system.get("SentTimestamp")
        return Message(
            id=str(raw["MessageId"]),
            body=str(raw.get("Body", "")).encode("utf-8"),
            delivery_count=int(system.get("ApproximateReceiveCount", "1")),
            receipt=SqsReceipt(handle=str(raw["ReceiptHandle"]), lease_ends=lease_ends),
            attributes=attributes,
            enqueued_at=int(sent) / 1000.0 if sent else None,
        )

    @staticmethod
    def _receipt(message: Message) -> SqsReceipt:
        if not isinstance(message.receipt, SqsReceipt):
            raise TypeError(f"message {message.id} was not received from the SQS backend")
        return message.receipt

    @staticmethod
    def _call(operation: Callable[..., T], **kwargs: Any) -> T:
        """Run one SQS call; map botocore's failures onto BackendError / LeaseLost.

        botocore already retries connection errors and throttling (the client's retry config);
        what still fails here is reported as BackendError so the worker backs off and retries.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return operation(**kwargs)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            text = str(error.response.get("Error", {}).get("Message", ""))
            if code in _LEASE_CODES and "ReceiptHandle" in kwargs:
                raise LeaseLost(f"SQS {code}: {text}") from error
            if (
                code in _TRANSIENT_CODES
                or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
            ):
                raise BackendError(f"SQS {code}: {text}") from error
            raise
        except BotoCoreError as error:  # connection refused / reset / timed out, after retries
            raise BackendError(f"SQS unreachable: {error}") from error


def make_client(region: str | None = None, endpoint_url: str | None = None) -> Any:
    """A boto3 SQS client with standard retries (connection errors, throttling) and timeouts
    longer than the 20 s long poll, so a long poll is not cut off by the read timeout."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"max_attempts": 5, "mode": "standard"},
        connect_timeout=5,
        read_timeout=MAX_WAIT_SECONDS + 10,
    )
    return boto3.client("sqs", region_name=region or None, endpoint_url=endpoint_url or None, config=config)


def from_settings(settings: Settings) -> SqsBackend:
    """The backend the environment contract describes (AGENTFLEET_QUEUE is the queue URL).

    The region is AGENTFLEET_REGION, else the one in the queue URL. An endpoint override (a test
    peer, a VPC endpoint) comes from boto3's own AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_SQS.
    """
    region = settings.region or _region_from_url(settings.queue)
    return SqsBackend(
        make_client(region),
        settings.queue,
        dead_letter_url=settings.dead_letter_queue,
        visibility_timeout=settings.visibility_timeout,
    )


def _region_from_url(url: str) -> str | None:
    """https://sqs.us-east-1.amazonaws.com/123/q -> us-east-1 (None for other URL shapes)."""
    host = url.split("://", 1)[-1].split("/", 1)[0]
    parts = host.split(".")
    if len(parts) >= 4 and parts[0] == "sqs":
        return parts[1]
    return None
