"""Dead letters back to the work queue (or away), losing nothing and duplicating nothing confirmed.

The order, for each batch taken from the dead-letter queue:

1. send copies of the chosen dead letters to the work queue (`requeue`);
2. for each copy the broker confirmed, write its key to the journal (flushed and fsync'd);
3. remove those dead letters from the dead-letter queue;
4. write "removed" for each removal the broker confirmed.

A dead letter is removed only after its copy is confirmed, so an interruption anywhere leaves it
in the dead-letter queue or in the work queue, never in neither. The journal keeps the keys whose
copies were confirmed but whose dead letters may not be removed yet: a rerun skips sending those
again and only removes them, so it duplicates nothing the first run had confirmed. (A copy the
broker accepted but whose confirmation never reached us, cut off mid-call, can still be sent twice;
every copy carries the dead letter's key in `agentfleet-redrive-id` so a handler can tell.)

Dead letters a run took but did not move (not chosen, not confirmed, interrupted) are given back
before it returns, so they are visible again at once. "All, no filter" is handed to the broker's
own move task where it has one (SQS), which runs on the broker and survives the operator's exit.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from agentfleet.agent.backends.admin import DeadLetter, QueueAdmin

#: Where journals live unless --journal-dir says otherwise.
DEFAULT_JOURNAL_DIR = Path("~/.agentfleet/redrive")

#: progress(done, total or None)
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class Selection:
    """Which dead letters: by key, by a piece of the reason, at most `limit`. Empty = all."""

    keys: frozenset[str] = frozenset()
    reason: str = ""
    limit: int | None = None

    @property
    def everything(self) -> bool:
        return not self.keys and not self.reason and self.limit is None

    def matches(self, letter: DeadLetter) -> bool:
        if self.keys and letter.key not in self.keys:
            return False
        return not self.reason or self.reason.lower() in letter.reason.lower()


@dataclass
class Outcome:
    """What a redrive or purge did."""

    moved: int = 0
    #: Dead letters whose copy an earlier, interrupted run had confirmed: removed, not resent.
    resumed: int = 0
    #: Chosen dead letters left in the dead-letter queue (copy not confirmed, or not removed).
    left: int = 0
    #: True when the broker's own move task did the work.
    by_broker: bool = False
    keys: list[str] = field(default_factory=list)


class Journal:
    """Keys whose copies the work queue confirmed, until their dead letters are removed.

    An append-only file of `{"sent": key}` / `{"removed": key}` lines, one per dead-letter queue
    (named by a hash of the queue's identity), flushed to disk before the next step runs.
    `close()` rewrites it to the keys still pending, or deletes it when none are.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pending: set[str] = set()
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue  # a line cut off by a crash is blank or unreadable: skip it
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if "sent" in entry:
                    self.pending.add(str(entry["sent"]))
                elif "removed" in entry:
                    self.pending.discard(str(entry["removed"]))
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = path.open("a", encoding="utf-8")

    @classmethod
    def for_queue(cls, directory: Path, identity: str) -> Journal:
        digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
        return cls(directory.expanduser() / f"{digest}.jsonl")

    def sent(self, keys: Sequence[str]) -> None:
        self._write("sent", keys)
        self.pending.update(keys)

    def removed(self, keys: Sequence[str]) -> None:
        self._write("removed", keys)
        self.pending.difference_update(keys)

    def _write(self, kind: str, keys: Sequence[str]) -> None:
        if not keys:
            return
        self._file.write("".join(json.dumps({kind: k}) + "\n" for k in keys))
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()
        if not self.pending:
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(
            "".join(json.dumps({"sent": k}) + "\n" for k in sorted(self.pending)), encoding="utf-8"
        )
        tmp.replace(self.path)


@contextmanager
def _taking(admin: QueueAdmin) -> Iterator[tuple[list[DeadLetter], Callable[[], list[DeadLetter]]]]:
    """Take batches until none is new; whatever is still held at the end is given back."""
    held: list[DeadLetter] = []
    seen: set[str] = set()

    def take() -> list[DeadLetter]:
        batch = admin.take_dead_letters(admin.batch_size)
        fresh = [m for m in batch if m.key not in seen]
        held.extend(m for m in batch if m.key in seen)  # taken twice: give it back too
        seen.update(m.key for m in fresh)
        held.extend(fresh)
        return fresh

    try:
        yield held, take
    finally:
        if held:
            admin.give_back(held)


def _settle(held: list[DeadLetter], done: Sequence[DeadLetter]) -> None:
    """Drop letters from the held list once they are gone from the dead-letter queue."""
    gone = {id(m) for m in done}
    held[:] = [m for m in held if id(m) not in gone]


def _total(admin: QueueAdmin, selection: Selection) -> int | None:
    """What the progress bar counts to: every dead letter, at most --limit; unknown with a filter."""
    if selection.keys:
        return len(selection.keys)
    if selection.reason:
        return selection.limit
    dead = admin.counts().dead_lettered
    if selection.limit is None or dead is None:
        return dead if selection.limit is None else selection.limit
    return min(dead, selection.limit)


def count_matching(admin: QueueAdmin, selection: Selection, scan: int) -> list[DeadLetter]:
    """The dead letters a run would touch (a dry run: nothing is taken or moved)."""
    found = [m for m in admin.peek_dead_letters(scan) if selection.matches(m)]
    return found[: selection.limit] if selection.limit is not None else found


def redrive(
    admin: QueueAdmin, selection: Selection, journal: Journal, progress: Progress | None = None
) -> Outcome:
    """Move the selected dead letters back to the work queue (see the module docstring)."""
    try:
        return _redrive(admin, selection, journal, progress or (lambda done, total: None))
    finally:
        journal.close()


def _redrive(admin: QueueAdmin, selection: Selection, journal: Journal, report: Progress) -> Outcome:
    outcome = Outcome()
    if selection.everything and not journal.pending:
        moved = admin.move_all_dead_letters(report)
        if moved is not None:
            return Outcome(moved=moved, by_broker=True)
    total = _total(admin, selection)
    with _taking(admin) as (held, take):
        while selection.limit is None or outcome.moved + outcome.resumed < selection.limit:
            batch = take()
            if not batch:
                break
            chosen = [m for m in batch if selection.matches(m)]
            if selection.limit is not None:
                chosen = chosen[: selection.limit - outcome.moved - outcome.resumed]
            already = [m for m in chosen if m.key in journal.pending]
            fresh = [m for m in chosen if m.key not in journal.pending]
            confirmed = [m for m, ok in zip(fresh, admin.requeue(fresh), strict=True) if ok]
            journal.sent([m.key for m in confirmed])
            removable = [*already, *confirmed]
            removed = [m for m, ok in zip(removable, admin.remove_dead_letters(removable), strict=True) if ok]
            journal.removed([m.key for m in removed])
            _settle(held, removed)
            resumed = {id(m) for m in already}
            outcome.resumed += sum(1 for m in removed if id(m) in resumed)
            outcome.moved += sum(1 for m in removed if id(m) not in resumed)
            outcome.left += len(chosen) - len(removed)
            outcome.keys.extend(m.key for m in removed)
            report(outcome.moved + outcome.resumed, total)
    return outcome


def purge(admin: QueueAdmin, selection: Selection, progress: Progress | None = None) -> Outcome:
    """Delete the selected dead letters for good."""
    report = progress or (lambda done, total: None)
    outcome = Outcome()
    total = _total(admin, selection)
    with _taking(admin) as (held, take):
        while selection.limit is None or outcome.moved < selection.limit:
            batch = take()
            if not batch:
                break
            chosen = [m for m in batch if selection.matches(m)]
            if selection.limit is not None:
                chosen = chosen[: selection.limit - outcome.moved]
            removed = [m for m, ok in zip(chosen, admin.remove_dead_letters(chosen), strict=True) if ok]
            _settle(held, removed)
            outcome.moved += len(removed)
            outcome.left += len(chosen) - len(removed)
            outcome.keys.extend(m.key for m in removed)
            report(outcome.moved, total)
    return outcome
