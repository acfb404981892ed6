"""The handler of the non-idempotent crash test: its effect appends a line to a plain file
(APPEND_TEST_LOG), outside the queue and the state store, guarded only by ctx.once. Nothing but
ctx.once stops a second append.

Bodies are `KEY#COPY`: several messages share a key (a producer's retries). Keys named `long-…`
take APPEND_TEST_LONG_SECONDS (longer than the lease), others APPEND_TEST_SECONDS; the line is
appended halfway through, so a kill can land before or after it. Poison messages fail as in
handlers.py."""

from __future__ import annotations

import os
import time

from agentfleet.agent.backends.base import Message
from agentfleet.agent.context import Context
from agentfleet.agent.handler import PermanentError


def _append(line: str) -> None:
    fd = os.open(os.environ["APPEND_TEST_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())  # one write on an O_APPEND file: lines never interleave
    finally:
        os.close(fd)


def append_handler(message: Message, ctx: Context) -> None:
    body = message.text()
    if body.startswith("permanent-poison"):
        raise PermanentError(f"{body} cannot be processed")
    if body.startswith("failing-poison"):
        raise ValueError(f"{body} always fails")
    key = body.split("#", 1)[0]
    variable = "APPEND_TEST_LONG_SECONDS" if key.startswith("long-") else "APPEND_TEST_SECONDS"
    seconds = float(os.environ.get(variable, "0"))
    with ctx.once(key) as first:
        if first:
            time.sleep(seconds / 2)
            _append(f"{key} {os.getpid()}\n")
            time.sleep(seconds / 2)
