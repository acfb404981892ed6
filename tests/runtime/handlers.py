"""Handlers that `agentfleet agent run` processes load in the crash and drain tests.

Each records every attempt in its own SQLite file (RUNTIME_TEST_LOG), outside the queue and the
state store, so a test can tell "the handler ran" from "the effect was applied".
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time

from agentfleet.agent.backends.base import Message
from agentfleet.agent.context import Context
from agentfleet.agent.handler import PermanentError
from agentfleet.agent.state.base import ConflictError

_log: sqlite3.Connection | None = None
_lock = threading.Lock()
SCHEMA = "CREATE TABLE IF NOT EXISTS {} (body TEXT, delivery_count INT, pid INT, at REAL)"


def _record(table: str, message: Message) -> None:
    global _log
    with _lock:
        if _log is None:
            path = os.environ["RUNTIME_TEST_LOG"]
            _log = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
            _log.execute("PRAGMA journal_mode=WAL")
            _log.execute("PRAGMA synchronous=NORMAL")
            for name in ("attempts", "finished"):
                _log.execute(SCHEMA.format(name))
        _log.execute(
            f"INSERT INTO {table} VALUES (?, ?, ?, ?)",
            (message.text(), message.delivery_count, os.getpid(), time.time()),
        )


def crash_handler(message: Message, ctx: Context) -> None:
    """Poison messages fail (permanently or always); every other message applies an idempotent
    effect — a put-if-absent into the state store — guarded by ctx.once."""
    body = message.text()
    _record("attempts", message)
    if body.startswith("permanent-poison"):
        raise PermanentError(f"{body} cannot be processed")
    if body.startswith("failing-poison"):
        raise ValueError(f"{body} always fails")
    time.sleep(float(os.environ.get("CRASH_TEST_WORK_SECONDS", "0")))  # some work to be killed in
    with ctx.once(body) as first:
        if first:
            try:
                ctx.state.put(f"effect:{body}", {"by": os.getpid()}, if_absent=True)
            except ConflictError:
                pass  # applied by a delivery whose agent died before marking it done


def slow_handler(message: Message, ctx: Context) -> None:
    """Takes DRAIN_TEST_SECONDS (default 0.5 s), then records that it finished."""
    _record("attempts", message)
    time.sleep(float(os.environ.get("DRAIN_TEST_SECONDS", "0.5")))
    _record("finished", message)


def secret_reading_handler(message: Message, ctx: Context) -> None:
    """Writes the API_KEY it sees in its environment to SECRET_TEST_OUT (the secrets test)."""
    with open(os.environ["SECRET_TEST_OUT"], "a") as out:
        out.write(os.environ.get("API_KEY", "<unset>") + "\n")
