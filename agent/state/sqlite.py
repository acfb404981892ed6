"""The SQLite state store: one table of JSON values with versions, conditional writes in SQL.

It keeps no expiry (`expires_at` is accepted and ignored): the file belongs to one local fleet's
directory and goes with it.

Safe across processes for the same reason the SQLite queue is: each conditional write is a single
statement whose WHERE clause is the condition, executed under SQLite's write lock.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentfleet.agent.backends.sqlite import connect, create_schema
from agentfleet.agent.state.base import (
    ConflictError,
    Item,
    StateError,
    StateStore,
    check_put_conditions,
    encode_value,
)

if TYPE_CHECKING:
    from agentfleet.agent.settings import Settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    version INTEGER NOT NULL
) WITHOUT ROWID
"""


class SqliteStateStore(StateStore):
    """Key -> (JSON value, version) in the `state` table of a SQLite file."""

    name = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._conn = connect(self.path)
        create_schema(self._conn, SCHEMA)

    def _run(self, sql: str, params: Any) -> sqlite3.Cursor:
        try:
            with self._lock:
                return self._conn.execute(sql, params)
        except sqlite3.OperationalError as e:
            raise StateError(f"sqlite state {self.path}: {e}") from e

    def _fetch(self, sql: str, params: Any) -> list[Any]:
        try:
            with self._lock:
                return self._conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as e:
            raise StateError(f"sqlite state {self.path}: {e}") from e

    def get(self, key: str) -> Item | None:
        rows = self._fetch("SELECT value, version FROM state WHERE key = ?", (key,))
        if not rows:
            return None
        return Item(key, json.loads(rows[0][0]), rows[0][1])

    def put(
        self,
        key: str,
        value: dict[str, Any],
        *,
        if_absent: bool = False,
        if_version: int | None = None,
        expires_at: float | None = None,
    ) -> Item:
        check_put_conditions(if_absent, if_version)
        data = encode_value(key, value)
        if if_absent:
            rows = self._fetch(
                "INSERT INTO state (key, value, version) VALUES (?, ?, 1) ON CONFLICT (key) DO NOTHING "
                "RETURNING version",
                (key, data),
            )
            if not rows:
                raise ConflictError(key, "it already exists")
        elif if_version is not None:
            rows = self._fetch(
                "UPDATE state SET value = ?, version = version + 1 WHERE key = ? AND version = ? "
                "RETURNING version",
                (data, key, if_version),
            )
            if not rows:
                raise ConflictError(key, f"its version is no longer {if_version}")
        else:
            rows = self._fetch(
                "INSERT INTO state (key, value, version) VALUES (?, ?, 1) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = state.version + 1 "
                "RETURNING version",
                (key, data),
            )
        return Item(key, json.loads(data), rows[0][0])

    def delete(self, key: str, *, if_version: int | None = None) -> None:
        if if_version is None:
            self._run("DELETE FROM state WHERE key = ?", (key,))
            return
        if self._run("DELETE FROM state WHERE key = ? AND version = ?", (key, if_version)).rowcount != 1:
            raise ConflictError(key, f"its version is no longer {if_version} (or it is gone)")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def from_settings(settings: Settings) -> SqliteStateStore:
    return SqliteStateStore(settings.state)
