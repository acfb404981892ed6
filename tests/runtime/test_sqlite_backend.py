"""The SQLite backend and state store pass the shared contracts, plus what only SQLite promises:
several processes claiming from one file never share a delivery, and redrive catches messages
whose consumers died."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agentfleet.agent.backends.sqlite import SqliteBackend
from agentfleet.agent.state.sqlite import SqliteStateStore
from tests.runtime.contract import BackendContract, StateStoreContract, receive_one


class TestSqliteBackendContract(BackendContract):
    lease_slack = 0.5

    @pytest.fixture(autouse=True)
    def _dir(self, tmp_path: Path) -> None:
        self.tmp = tmp_path

    def make_backend(self, visibility_timeout: int, max_receive_count: int) -> SqliteBackend:
        return SqliteBackend(self.tmp / "queue.db", visibility_timeout, max_receive_count)


class TestSqliteStateContract(StateStoreContract):
    @pytest.fixture(autouse=True)
    def _dir(self, tmp_path: Path) -> None:
        self.tmp = tmp_path

    def make_store(self) -> SqliteStateStore:
        return SqliteStateStore(self.tmp / "state.db")


def _claim_all(path: str, out: multiprocessing.Queue, go: Any) -> None:
    backend = SqliteBackend(path, visibility_timeout=60)
    out.put("ready")
    go.wait()  # all three start claiming together
    ids = []
    while True:
        batch = backend.receive(7, 1.0)
        if not batch:
            break
        for m in batch:
            ids.append(m.id)
            backend.ack(m)
        time.sleep(0.005)  # a little work, so the three really overlap on a busy machine
    out.put(ids)


def test_processes_claiming_one_file_never_share_a_delivery(tmp_path: Path) -> None:
    path = str(tmp_path / "queue.db")
    SqliteBackend(path).send_many(str(i).encode() for i in range(6000))
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = ctx.Queue()
    go = ctx.Event()
    procs = [ctx.Process(target=_claim_all, args=(path, out, go)) for _ in range(3)]
    for p in procs:
        p.start()
    assert [out.get(timeout=60) for _ in procs] == ["ready"] * 3
    go.set()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    claimed = [i for ids in results for i in ids]
    assert len(claimed) == 6000, "every message delivered"
    assert len(set(claimed)) == 6000, "no message delivered to two processes"
    assert all(results), "all three processes took part"


def test_redrive_dead_letters_a_message_whose_consumers_keep_dying(tmp_path: Path) -> None:
    backend = SqliteBackend(tmp_path / "queue.db", visibility_timeout=1, max_receive_count=2)
    backend.send(b"crashes the agent")
    for _ in range(2):  # each consumer "dies": never settles
        assert receive_one(backend, 2.5) is not None
    time.sleep(1.1)
    assert backend.receive(1, 0.2) == []
    (dead,) = backend.dead_letters()
    assert dead.body == b"crashes the agent"
    assert dead.delivery_count == 2
    assert "max_receive_count" in dead.reason


def test_dead_letter_keeps_the_reason(tmp_path: Path) -> None:
    backend = SqliteBackend(tmp_path / "queue.db")
    backend.send(b"bad")
    (message,) = backend.receive(1, 1)
    backend.dead_letter(message, "PermanentError: not json")
    assert [(d.body, d.reason) for d in backend.dead_letters()] == [(b"bad", "PermanentError: not json")]


class _SettleDuringClaimRead:
    """Wraps a backend's connection: when the claim's rows are read, another thread first
    dead-letters a message. That is the gap of finding 1 (issue 15): a claim read outside the
    backend's lock keeps its write transaction open, so the other thread's COMMIT fails and its
    ROLLBACK undoes the claim."""

    def __init__(self, backend: SqliteBackend, victim: Any) -> None:
        self.conn = backend._conn
        self.backend = backend
        self.victim = victim
        self.errors: list[BaseException] = []
        self.thread: threading.Thread | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)

    def execute(self, sql: str, params: Any = ()) -> Any:
        cursor = self.conn.execute(sql, params)
        if "RETURNING" in sql and "UPDATE messages" in sql and self.thread is None:
            return _HookedCursor(cursor, self._settle_elsewhere)
        return cursor

    def _settle_elsewhere(self) -> None:
        def settle() -> None:
            try:
                self.backend.dead_letter(self.victim, "PermanentError: bad")
            except BaseException as e:  # noqa: BLE001 - recorded for the assertion
                self.errors.append(e)

        self.thread = threading.Thread(target=settle)
        self.thread.start()
        # Old code: the settle runs right now, inside the gap. Fixed code: it waits for the lock,
        # so this join gives up and the claim finishes first.
        self.thread.join(timeout=1.0)


class _HookedCursor:
    def __init__(self, cursor: Any, before_read: Any) -> None:
        self.cursor = cursor
        self.before_read = before_read

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cursor, name)

    def fetchall(self) -> list[Any]:
        self.before_read()
        return self.cursor.fetchall()


def test_a_settle_from_another_thread_during_a_claim_loses_neither(tmp_path: Path) -> None:
    backend = SqliteBackend(tmp_path / "queue.db", visibility_timeout=60)
    backend.send_many([b"victim", b"a", b"b"])
    (victim,) = backend.receive(1, 1)
    hook = _SettleDuringClaimRead(backend, victim)
    backend._conn = hook  # type: ignore[assignment]
    claimed = backend.receive(2, 1)
    assert hook.thread is not None
    hook.thread.join(timeout=10)
    backend._conn = hook.conn
    assert hook.errors == [], "the dead-letter must commit"
    assert sorted(m.body for m in claimed) == [b"a", b"b"]
    assert [d.body for d in backend.dead_letters()] == [b"victim"]
    assert backend.stats().in_flight == 2, "the claim must hold"
    assert backend.receive(10, 0.2) == [], "claimed messages must not be handed out again"
    for m in claimed:
        backend.ack(m)
    assert backend.stats().waiting == 0 and backend.stats().in_flight == 0
