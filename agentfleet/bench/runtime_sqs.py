"""The runtime's overhead on SQS: one agent process (no-op handler) against a bare boto3
receive/delete loop, both consuming the same number of messages from a moto server over HTTP.
Target: the agent reaches at least 0.9x the bare loop's rate.

The agent is the real runtime (`agentfleet agent run`, AGENTFLEET_BACKEND=sqs, concurrency 1)
pointed at moto with boto3's AWS_ENDPOINT_URL_SQS; the bare loop is what a hand-written worker
does: receive up to 10 with long polling, delete each message one by one. Both rates run from
the first message consumed to an empty queue (no start-up counted), on one fresh moto server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from agent import contract
from agentfleet.bench import Figure

NAME = "runtime_sqs"
TARGET_RATIO = 0.9
ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": REGION}


def noop(message: object, ctx: object) -> None:
    """The benchmark's handler: does nothing, so the figure is the runtime's own cost."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _moto_server() -> tuple[subprocess.Popen[bytes], str]:
    binary = Path(sys.executable).parent / "moto_server"
    if not binary.exists():
        raise RuntimeError(f"moto_server not found next to {sys.executable}: install the dev extra")
    port = _free_port()
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


def _remaining(sqs: Any, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attrs[n]) for n in names)


def _agent_consumed_rate(
    total: int, sqs: Any, url: str, process: subprocess.Popen[bytes], timeout: float
) -> float:
    """Messages per second from the first consumed message to an empty queue, asking moto every
    0.2 s only, so the measuring does not load the broker the agent is measured against."""
    deadline = time.monotonic() + timeout
    start: float | None = None
    at_start = total
    try:
        while True:
            left = _remaining(sqs, url)
            now = time.perf_counter()
            if start is None and left < total:
                start, at_start = now, left
            if left == 0 and start is not None:
                return at_start / max(now - start, 1e-9)
            if process.poll() is not None:
                raise RuntimeError(f"agent exited with {process.returncode} before the queue emptied")
            if time.monotonic() > deadline:
                raise RuntimeError(f"agent left {left} of {total} messages after {timeout:.0f}s")
            time.sleep(0.2 if start is not None else 0.02)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


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
        [sys.executable, "-c", "from agent.cli import agent_app; agent_app()", "run"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return _agent_consumed_rate(messages, sqs, url, process, timeout=600)


def bare_rate(endpoint: str, messages: int) -> float:
    """The hand-written loop: receive 10 with long polling, delete each, until the queue is empty."""
    sqs = _client(endpoint)
    url = _filled_queue(sqs, messages)
    done = 0
    start: float | None = None
    while done < messages:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if start is None and got:
            start = time.perf_counter()
        for message in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            done += 1
    assert start is not None
    return done / max(time.perf_counter() - start, 1e-9)


def run(quick: bool) -> list[Figure]:
    messages = 300 if quick else 2000
    process, endpoint = _moto_server()
    try:
        bare = bare_rate(endpoint, messages)
        ours = agent_rate(endpoint, messages)
    finally:
        process.terminate()
        process.wait(timeout=20)
    ratio = ours / bare
    return [
        Figure(NAME, f"agent, no-op handler, SQS on moto ({messages} msgs)", ours, "msg/s"),
        Figure(NAME, f"bare boto3 receive/delete loop ({messages} msgs)", bare, "msg/s"),
        Figure(
            NAME, "agent / bare loop", ratio, "x", target=f">= {TARGET_RATIO:g}x", met=ratio >= TARGET_RATIO
        ),
    ]
