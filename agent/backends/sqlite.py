"""The embedded SQLite queue: a real file in WAL mode, shared safely by several agent processes.

One table holds every message with `visible_at` (unix seconds) and a `lease` token. A receive
claims the oldest visible rows in ONE statement (`UPDATE … WHERE id IN (SELECT … LIMIT n)
RETURNING …`), so two processes can never lease the same delivery; ack, extend and release only
touch a row whose lease token is still ours, so a consumer whose lease expired and was taken by
another cannot settle the new delivery. A second table keeps dead letters with their reason.

Like SQS redrive, a message already delivered `max_receive_count` times is moved to the dead
letters on the next receive instead of being handed out again: that catches poison messages that
crash the agent itself. The runtime still dead-letters at the Nth failed delivery (with the
handler's exception as reason), because `native_dead_letter` is False.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentfleet.agent.backends.base import BackendError, LeaseLost, Message, QueueBackend, QueueStats

if TYPE_CHECKING:
    from agentfleet.agent.settings import Settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    body BLOB NOT NULL,
    attributes TEXT,
    enqueued_at REAL NOT NULL,
    visible_at REAL NOT NULL,
    delivery_count INTEGER NOT NULL DEFAULT 0,
    lease TEXT
);
CREATE INDEX IF NOT EXISTS messages_visible ON messages (visible_at);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    body BLOB NOT NULL,
    attributes TEXT,
    enqueued_at REAL NOT NULL,
    delivery_count INTEGER NOT NULL,
    reason TEXT NOT NULL,
    dead_lettered_at REAL NOT NULL
);
"""

_CLAIM = """
UPDATE messages SET visible_at = :until, delivery_count = delivery_count + 1, lease = :lease
WHERE id IN (
    SELECT id FROM messages WHERE visible_at <= :now AND delivery_count < :max
    ORDER BY visible_at, id LIMIT :n
)
RETURNING id, body, attributes, enqueued_at, delivery_count
"""
#: Acks per DELETE statement (SQLite allows 32,766 bound values since 3.32, 999 before).
_MAX_ACKS_PER_STATEMENT = 500
#: The next messages in line (read-only: an empty queue costs no write lock).
_NEXT = "SELECT id, delivery_count FROM messages WHERE visible_at <= ? ORDER BY visible_at, id LIMIT ?"
_MOVE_TO_DEAD = """
INSERT INTO dead_letters (id, body, attributes, enqueued_at, delivery_count, reason, dead_lettered_at)
SELECT id, body, attributes, enqueued_at, delivery_count, :reason, :now FROM messages WHERE id = :id
"""


def connect(path: str | Path) -> sqlite3.Connection:
    """A WAL-mode connection that waits (busy timeout) instead of failing when another process
    holds the write lock. Autocommit: every statement is its own transaction unless BEGIN'd."""
    Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=60.0, isolation_level=None, check_same_thread=False)
    for attempt in range(50):
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError:  # another process is creating the file right now
            time.sleep(0.01 * (attempt + 1))
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=60000")
    return conn


def create_schema(conn: sqlite3.Connection, schema: str) -> None:
    """Create tables once, atomically, even when several processes start at the same moment."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in schema.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


@dataclass(frozen=True)
class _Result:
    """A statement's rows, read in full while the backend's lock was held."""

    rows: list[Any]
    rowcount: int
    lastrowid: int | None

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Any]:
        return self.rows


@dataclass(frozen=True)
class DeadLetter:
    """A dead-lettered message and why."""

    id: str
    body: bytes
    delivery_count: int
    reason: str
    dead_lettered_at: float


class SqliteBackend(QueueBackend):
    """A lease-based work queue in one SQLite file. Thread-safe within a process (one connection
    behind a lock) and process-safe across processes (SQLite's write lock + lease tokens)."""

    name = "sqlite"
    native_dead_letter = False
    #: Acks the runtime may send in one `ack_batch` (one transaction): a batch costs about what
    #: one ack does, so a busy agent's acks share a commit.
    max_ack_batch = 200
    #: A claim of 50 costs about what a claim of 10 does (one statement), and the agent's
    #: throughput on a fast handler rises by about a third.
    max_receive_batch = 50

    def __init__(self, path: str | Path, visibility_timeout: int = 30, max_receive_count: int = 5) -> None:
        self.path = str(path)
        self.visibility_timeout = visibility_timeout
        self.max_receive_count = max_receive_count
        self._lock = threading.Lock()
        self._conn = connect(self.path)
        create_schema(self._conn, SCHEMA)

    # -- helpers ---------------------------------------------------------------------------------

    def _run(self, sql: str, params: Any = ()) -> _Result:
        """One statement, run to completion and its rows read while the lock is held.

        Reading a cursor outside the lock would leave its statement (and, for `UPDATE …
        RETURNING`, its write transaction) open on the connection every thread shares: another
        thread's COMMIT then fails with "SQL statements in progress" and its ROLLBACK undoes this
        statement too (issue 15, finding 1)."""
        try:
            with self._lock:
                cursor = self._conn.execute(sql, params)
                rows = cursor.fetchall()
                return _Result(rows, cursor.rowcount, cursor.lastrowid)
        except sqlite3.OperationalError as e:  # locked past the busy timeout, disk I/O …
            raise BackendError(f"sqlite queue {self.path}: {e}") from e

    def _transaction(self, statements: Iterable[tuple[str, Any]], *, rows: bool = False) -> list[Any]:
        """Run statements in one IMMEDIATE transaction; returns each statement's rowcount, or
        with `rows` each statement's rows."""
        results: list[Any] = []
        try:
            with self._lock:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    for sql, params in statements:
                        cursor = self._conn.execute(sql, params)
                        fetched = cursor.fetchall()  # run to completion before the COMMIT
                        results.append(fetched if rows else cursor.rowcount)
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
        except sqlite3.OperationalError as e:
            raise BackendError(f"sqlite queue {self.path}: {e}") from e
        return results

    @staticmethod
    def _lease(message: Message) -> tuple[int, str]:
        if not isinstance(message.receipt, str):
            raise LeaseLost(f"message {message.id} has no sqlite lease token")
        return int(message.id), message.receipt

    # -- QueueBackend ----------------------------------------------------------------------------

    def send(self, body: bytes, attributes: dict[str, str] | None = None) -> str:
        now = time.time()
        cur = self._run(
            "INSERT INTO messages (body, attributes, enqueued_at, visible_at) VALUES (?, ?, ?, ?)",
            (body, json.dumps(attributes) if attributes else None, now, now),
        )
        return str(cur.lastrowid)

    def send_many(self, bodies: Iterable[bytes]) -> int:
        """Enqueue many messages in one transaction (seeding tests, benchmarks, the local fleet)."""
        now = time.time()
        rows = [(b, now, now) for b in bodies]
        try:
            with self._lock:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.executemany(
                    "INSERT INTO messages (body, enqueued_at, visible_at) VALUES (?, ?, ?)", rows
                )
                self._conn.execute("COMMIT")
        except sqlite3.OperationalError as e:
            raise BackendError(f"sqlite queue {self.path}: {e}") from e
        return len(rows)

    def receive(self, max_messages: int, wait_seconds: float) -> list[Message]:
        deadline = time.monotonic() + wait_seconds
        pause = 0.005
        while True:
            messages = self._claim(max_messages)
            if messages or time.monotonic() >= deadline:
                return messages
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 0.1)

    def _claim(self, max_messages: int) -> list[Message]:
        now = time.time()
        # A read first: an empty queue costs no write lock, so idle pollers don't contend.
        upcoming = self._run(_NEXT, (now, max_messages)).fetchall()
        if not upcoming:
            return []
        exhausted = [id_ for id_, count in upcoming if count >= self.max_receive_count]
        if exhausted:
            self._dead_letter_exhausted(exhausted, now)
        lease = uuid.uuid4().hex
        params = {
            "until": now + self.visibility_timeout,
            "lease": lease,
            "now": now,
            "n": max_messages,
            "max": self.max_receive_count,
        }
        rows = self._run(_CLAIM, params).fetchall()
        rows.sort(key=lambda r: r[0])
        return [
            Message(
                id=str(row[0]),
                body=bytes(row[1]),
                delivery_count=row[4],
                receipt=lease,
                attributes=json.loads(row[2]) if row[2] else {},
                enqueued_at=row[3],
            )
            for row in rows
        ]

    def _dead_letter_exhausted(self, ids: list[int], now: float) -> None:
        """Redrive: a visible message already delivered max_receive_count times goes to the
        dead letters instead of out again (its consumers died or gave up without settling).
        The claim skips such rows, so this only has to look at the next few in line."""
        reason = f"delivered {self.max_receive_count} times without being settled (max_receive_count)"
        statements: list[tuple[str, Any]] = []
        for id_ in ids:
            move = _MOVE_TO_DEAD + " AND visible_at <= :now"  # not if its holder just extended it
            statements.append((move, {"reason": reason, "now": now, "id": id_}))
            statements.append(("DELETE FROM messages WHERE id = ? AND visible_at <= ?", (id_, now)))
        self._transaction(statements)

    def ack(self, message: Message) -> None:
        id_, lease = self._lease(message)
        if self._run("DELETE FROM messages WHERE id = ? AND lease = ?", (id_, lease)).rowcount != 1:
            raise LeaseLost(f"message {message.id}: lease gone (expired and redelivered, or settled)")

    def ack_batch(self, messages: Sequence[Message]) -> list[BaseException | None]:
        """Delete many deliveries in one statement, so one transaction (and one WAL commit) serves
        a whole batch of acks. Per message: None once deleted, LeaseLost if its lease is gone.
        A failure of the whole statement raises BackendError and nothing was deleted."""
        results: list[BaseException | None] = [None] * len(messages)
        leases: list[tuple[int, str] | None] = []
        for i, message in enumerate(messages):
            try:
                leases.append(self._lease(message))
            except LeaseLost as e:
                leases.append(None)
                results[i] = e
        by_lease: dict[str, list[int]] = {}  # one claim's messages share a lease token
        for lease in leases:
            if lease is not None:
                by_lease.setdefault(lease[1], []).append(lease[0])
        statements: list[tuple[str, Any]] = []
        for token, ids in by_lease.items():
            for start in range(0, len(ids), _MAX_ACKS_PER_STATEMENT):
                chunk = ids[start : start + _MAX_ACKS_PER_STATEMENT]
                marks = ", ".join("?" for _ in chunk)
                sql = f"DELETE FROM messages WHERE lease = ? AND id IN ({marks}) RETURNING id"
                statements.append((sql, [token, *chunk]))
        deleted = {row[0] for rows in self._transaction(statements, rows=True) for row in rows}
        for i, (message, lease) in enumerate(zip(messages, leases, strict=True)):
            if lease is not None and lease[0] not in deleted:
                results[i] = LeaseLost(f"message {message.id}: lease gone (expired, or acked)")
        return results

    def extend_lease(self, message: Message, seconds: int) -> None:
        id_, lease = self._lease(message)
        cur = self._run(
            "UPDATE messages SET visible_at = ? WHERE id = ? AND lease = ?",
            (time.time() + seconds, id_, lease),
        )
        if cur.rowcount != 1:
            raise LeaseLost(f"message {message.id}: lease gone, cannot extend it")

    def release(self, message: Message, delay_seconds: int = 0) -> None:
        id_, lease = self._lease(message)
        cur = self._run(
            "UPDATE messages SET visible_at = ?, lease = NULL WHERE id = ? AND lease = ?",
            (time.time() + max(0, delay_seconds), id_, lease),
        )
        if cur.rowcount != 1:
            raise LeaseLost(f"message {message.id}: lease gone, nothing to release")

    def give_back(self, message: Message, delay_seconds: int = 0) -> None:
        """Visible again after `delay_seconds`, and the delivery that did not process it is not
        counted (issue 15, finding 6): a drain, or waiting for another holder of its ctx.once
        key, must not bring a message closer to its dead letter."""
        id_, lease = self._lease(message)
        cur = self._run(
            "UPDATE messages SET visible_at = ?, lease = NULL, delivery_count = MAX(0, delivery_count - 1) "
            "WHERE id = ? AND lease = ?",
            (time.time() + max(0, delay_seconds), id_, lease),
        )
        if cur.rowcount != 1:
            raise LeaseLost(f"message {message.id}: lease gone, nothing to give back")

    def dead_letter(self, message: Message, reason: str) -> None:
        id_, lease = self._lease(message)
        now = time.time()
        params = {"reason": reason, "now": now, "id": id_, "lease": lease}
        _, deleted = self._transaction(
            [
                (_MOVE_TO_DEAD + " AND lease = :lease", params),
                ("DELETE FROM messages WHERE id = ? AND lease = ?", (id_, lease)),
            ]
        )
        if deleted != 1:
            raise LeaseLost(f"message {message.id}: lease gone, cannot dead-letter it")

    def stats(self) -> QueueStats:
        now = time.time()
        total, in_flight = self._run(
            "SELECT COUNT(*), COALESCE(SUM(lease IS NOT NULL AND visible_at > ?), 0) FROM messages", (now,)
        ).fetchone()
        (dead,) = self._run("SELECT COUNT(*) FROM dead_letters").fetchone()
        return QueueStats(waiting=total - in_flight, in_flight=in_flight, dead_lettered=dead)

    def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter, oldest first, with its reason."""
        rows = self._run(
            "SELECT id, body, delivery_count, reason, dead_lettered_at FROM dead_letters ORDER BY id"
        ).fetchall()
        return [DeadLetter(str(r[0]), bytes(r[1]), r[2], r[3], r[4]) for r in rows]

    def ping(self) -> None:
        self._run("SELECT 1").fetchone()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def from_settings(settings: Settings) -> SqliteBackend:
    return SqliteBackend(settings.queue, settings.visibility_timeout, settings.max_receive_count)
