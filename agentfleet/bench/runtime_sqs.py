"""The runtime's overhead on SQS: one agent process (no-op handler) against a bare boto3
receive/delete loop, all consuming the same number of messages from one fresh moto server over
HTTP, each from its own queue. Target: the agent reaches at least 0.9x the bare loop's rate.

The agent is the real runtime (`agentfleet agent run`, AGENTFLEET_BACKEND=sqs, concurrency 1)
pointed at moto with boto3's AWS_ENDPOINT_URL_SQS. It receives 10 at a time and deletes with
DeleteMessageBatch (its ack batcher), so the bare loop it is held to does the same: receive up to
10 with long polling, delete them with one DeleteMessageBatch. The classic hand-written loop that
deletes each message with its own DeleteMessage is measured too, and the agent's ratio to it
reported beside the target figure (batching is most of that lead; it is not overhead saved).
Every rate runs from the first message finished to the last (no start-up counted); the agent's
is read from its own per-message log lines — written only once SQS confirmed the delete — so
nothing polls moto while it works. A last figure runs the agent's calls through `SqsBackend`
alone (receive 10, `ack_batch`), without the worker, to separate the backend's cost from the
worker's.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from agentfleet.agent import contract
from agentfleet.bench import Figure, stop_process
from agentfleet.ports import free_port

NAME = "runtime_sqs"
TARGET_RATIO = 0.9
ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": REGION}


def noop(message: object, ctx: object) -> None:
    """The benchmark's handler: does nothing, so the figure is the runtime's own cost."""


def _moto_server() -> tuple[subprocess.Popen[bytes], str]:
    binary = Path(sys.executable).parent / "moto_server"
    if not binary.exists():
        raise RuntimeError(f"moto_server not found next to {sys.executable}: install the dev extra")
    port = free_port()
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, **CREDENTIALS),
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("moto_server did not start within 30 s")


def _client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "sqs",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def _filled_queue(sqs: Any, messages: int) -> str:
    url = str(sqs.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}")["QueueUrl"])
    for start in range(0, messages, 10):
        entries = [{"Id": str(i), "MessageBody": "{}"} for i in range(start, min(messages, start + 10))]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    return url


def _agent_consumed_rate(total: int, process: subprocess.Popen[bytes], timeout: float) -> float:
    """Messages per second between the first and the last outcome, read from the agent's own log
    (one JSON line per message, with its timestamp). Nothing asks the broker while the agent runs:
    moto answers GetQueueAttributes by scanning the queue, which would slow the agent's receives."""
    assert process.stdout is not None
    stamps: list[float] = []
    deadline = time.monotonic() + timeout
    try:
        for line in process.stdout:
            if time.monotonic() > deadline:
                raise RuntimeError(f"agent finished {len(stamps)} of {total} messages in {timeout:.0f}s")
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "message" and event.get("result") == "succeeded":
                stamps.append(dt.datetime.fromisoformat(event["timestamp"]).timestamp())
                if len(stamps) == total:
                    return (total - 1) / max(stamps[-1] - stamps[0], 1e-9)
        raise RuntimeError(f"agent exited with {process.poll()} after {len(stamps)} of {total} messages")
    finally:
        stop_process(process)


def agent_rate(endpoint: str, messages: int) -> float:
    sqs = _client(endpoint)
    url = _filled_queue(sqs, messages)
    env = dict(os.environ, **CREDENTIALS)
    env.update(
        {
            contract.BACKEND: "sqs",
            contract.QUEUE: url,
            contract.HANDLER: f"{__name__}:noop",
            contract.CONCURRENCY: "1",
            contract.PORT: "0",
            contract.REGION: REGION,
            "AWS_ENDPOINT_URL_SQS": endpoint,
            "PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-c", "from agentfleet.agent.cli import agent_app; agent_app()", "run"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    return _agent_consumed_rate(messages, process, timeout=600)


def bare_rate(endpoint: str, messages: int) -> float:
    """The classic hand-written loop: receive 10 with long polling, delete each with its own
    DeleteMessage, until the queue is empty. Timed like the agent: first message finished to last."""
    sqs = _client(endpoint)
    url = _filled_queue(sqs, messages)
    done = 0
    first: float | None = None
    while done < messages:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for message in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            done += 1
            if first is None:
                first = time.perf_counter()
    assert first is not None
    return (done - 1) / max(time.perf_counter() - first, 1e-9)


def bare_batch_rate(endpoint: str, messages: int) -> float:
    """The same loop with the agent's delete call: receive 10, delete them with one
    DeleteMessageBatch. Timed like the agent: from the first batch confirmed to the last."""
    sqs = _client(endpoint)
    url = _filled_queue(sqs, messages)
    done = 0
    first: float | None = None
    while done < messages:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if not got:
            continue
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
        response = sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        if response.get("Failed"):
            raise RuntimeError(f"DeleteMessageBatch failed entries: {response['Failed']}")
        done += len(got)
        if first is None:
            first = time.perf_counter()
    assert first is not None
    return (done - 1) / max(time.perf_counter() - first, 1e-9)


def backend_rate(endpoint: str, messages: int) -> float:
    """The agent's calls through agentfleet's SqsBackend alone (receive 10, `ack_batch`): the
    backend's own cost, without the worker's threads."""
    from agentfleet.agent.backends.sqs import SqsBackend

    sqs = _client(endpoint)
    backend = SqsBackend(sqs, _filled_queue(sqs, messages), visibility_timeout=300)
    done = 0
    first: float | None = None
    while done < messages:
        got = backend.receive(10, 1)
        if not got:
            continue
        errors = [e for e in backend.ack_batch(got) if e is not None]
        if errors:
            raise RuntimeError(f"ack_batch failed: {errors}")
        done += len(got)
        if first is None:
            first = time.perf_counter()
    assert first is not None
    return (done - 1) / max(time.perf_counter() - first, 1e-9)


def run(quick: bool) -> list[Figure]:
    messages = 300 if quick else 1000
    process, endpoint = _moto_server()
    try:
        bare = bare_rate(endpoint, messages)
        bare_batch = bare_batch_rate(endpoint, messages)
        alone = backend_rate(endpoint, messages)
        ours = agent_rate(endpoint, messages)
    finally:
        stop_process(process)
    ratio = ours / bare_batch
    return [
        Figure(NAME, f"agent, no-op handler, SQS on moto ({messages} msgs)", ours, "msg/s"),
        Figure(NAME, f"bare boto3 loop, DeleteMessageBatch ({messages} msgs)", bare_batch, "msg/s"),
        Figure(NAME, f"bare boto3 loop, DeleteMessage each ({messages} msgs)", bare, "msg/s"),
        Figure(NAME, f"SqsBackend alone, receive + ack_batch ({messages} msgs)", alone, "msg/s"),
        Figure(
            NAME,
            "agent / bare loop (both DeleteMessageBatch)",
            ratio,
            "x",
            target=f">= {TARGET_RATIO:g}x",
            met=ratio >= TARGET_RATIO,
        ),
        Figure(NAME, "agent / bare loop deleting one by one", ours / bare, "x"),
    ]
