"""Operator verbs on the local fleet's SQLite queue (agent/backends/sqlite.py's file and tables).

The local fleet has one operator at a time, so `take` needs no lease: it walks the dead letters
in id order and hands out each once. A requeued copy is a new row of `messages` (a new id), its
dead letter is deleted by id afterwards.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agentfleet.agent.backends.admin import (
    AgentCounts,
    DeadLetter,
    OutputsError,
    QueueAdmin,
    QueueCounts,
    copy_attributes,
    require,
)
from agentfleet.agent.backends.sqlite import SqliteBackend, connect

_DEAD_COLUMNS = "id, body, attributes, delivery_count, reason, dead_lettered_at"


class SqliteAdmin(QueueAdmin):
    name = "sqlite"
    batch_size = 100

    def __init__(self, backend: SqliteBackend) -> None:
        self.backend = backend
        self._conn = connect(backend.path)
        self._taken_up_to = 0

    def counts(self) -> QueueCounts:
        stats = self.backend.stats()
        now = time.time()
        (oldest,) = self._conn.execute(
            "SELECT MIN(enqueued_at) FROM messages WHERE lease IS NULL OR visible_at <= ?", (now,)
        ).fetchone()
        return QueueCounts(
            waiting=stats.waiting,
            in_flight=stats.in_flight,
            dead_lettered=stats.dead_lettered,
            oldest_age_seconds=max(0.0, now - oldest) if oldest is not None else None,
        )

    def agents(self) -> AgentCounts:
        return AgentCounts()  # `local status` adds the supervisor's own record

    def peek_dead_letters(self, limit: int) -> list[DeadLetter]:
        rows = self._conn.execute(
            f"SELECT {_DEAD_COLUMNS} FROM dead_letters ORDER BY id LIMIT ?", (limit,)
        ).fetchall()
        return [_letter(row) for row in rows]

    def take_dead_letters(self, max_messages: int) -> list[DeadLetter]:
        rows = self._conn.execute(
            f"SELECT {_DEAD_COLUMNS} FROM dead_letters WHERE id > ? ORDER BY id LIMIT ?",
            (self._taken_up_to, max_messages),
        ).fetchall()
        if rows:
            self._taken_up_to = int(rows[-1][0])
        return [_letter(row) for row in rows]

    def requeue(self, letters: Sequence[DeadLetter]) -> list[bool]:
        now = time.time()
        rows = [
            (letter.body, json.dumps(copy_attributes(letter.attributes, letter.key)), now, now)
            for letter in letters
        ]
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.executemany(
                "INSERT INTO messages (body, attributes, enqueued_at, visible_at) VALUES (?, ?, ?, ?)", rows
            )
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return [True] * len(letters)

    def remove_dead_letters(self, letters: Sequence[DeadLetter]) -> list[bool]:
        self._conn.executemany("DELETE FROM dead_letters WHERE id = ?", [(int(x.key),) for x in letters])
        return [True] * len(letters)

    def give_back(self, letters: Sequence[DeadLetter]) -> None:
        return None  # nothing was leased

    def send_batch(self, bodies: Sequence[bytes]) -> int:
        return self.backend.send_many(bodies)

    def close(self) -> None:
        self._conn.close()


def _letter(row: Any) -> DeadLetter:
    id_, body, attributes, delivery_count, reason, dead_lettered_at = row
    return DeadLetter(
        key=str(id_),
        body=bytes(body),
        reason=str(reason),
        delivery_count=int(delivery_count),
        attributes=json.loads(attributes) if attributes else {},
        enqueued_at=float(dead_lettered_at),
    )


def from_outputs(outputs: Mapping[str, Any]) -> SqliteAdmin:
    """`queue` is the SQLite file (`{"cloud": "local", "queue": "~/.agentfleet/local/queue.db"}`)."""
    (path,) = require(outputs, "local", "queue")
    if not Path(path).expanduser().is_file():
        raise OutputsError(f"queue={path!r}: no local fleet's queue file there (run `agentfleet local up`)")
    return SqliteAdmin(SqliteBackend(path))
