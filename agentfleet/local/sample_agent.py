"""The demo's agent: inventory reconciliation, one vendor stock file per task.

A retailer receives stock files from its vendors (`vendors/<vendor>/<batch>.csv` in the bucket:
`sku,units` lines). Each task names one file; the agent reads it, reconciles it (the simulated
work: `INVENTORY_WORK_SECONDS`, default 0.2 s, standing in for lookups and an LLM call), then
applies the result to the vendor's inventory record in the state store and writes a per-task
result object to the bucket.

The effect is exactly-once over at-least-once delivery: the record `inventory/<vendor>` lists
the task ids already applied, and the update is one compare-and-set (`put(..., if_version=n)`),
so "already applied?" and "apply" happen atomically. A redelivered task (its agent was killed
after the write, before the ack) finds its id in the list and changes nothing. Because the ids
are kept, a duplicate effect would be *visible*: `audit_effects` counts them.

Message body (JSON): {"task": "t000042", "vendor": "v007", "file": "vendors/v007/b000042.csv"}
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from agentfleet.agent.bucket.base import Bucket, ObjectNotFound
from agentfleet.agent.handler import PermanentError
from agentfleet.agent.state.base import ConflictError, StateStore

WORK_SECONDS_ENV = "INVENTORY_WORK_SECONDS"
#: Compare-and-set attempts before the task is given back for a retry (a hot vendor record).
MAX_CAS_ATTEMPTS = 50


class _Message(Protocol):
    body: bytes


class _Context(Protocol):
    @property
    def state(self) -> StateStore: ...

    @property
    def bucket(self) -> Bucket: ...


def record_key(vendor: str) -> str:
    return f"inventory/{vendor}"


def parse_stock(data: bytes) -> dict[str, int]:
    """`sku,units` lines -> units per SKU (a header line and blank lines are skipped)."""
    stock: dict[str, int] = {}
    for line in data.decode("utf-8").splitlines():
        sku, _, units = line.partition(",")
        if not units or sku == "sku":
            continue
        stock[sku.strip()] = stock.get(sku.strip(), 0) + int(units)
    return stock


def parse_task(body: bytes) -> tuple[str, str, str]:
    """(task, vendor, file) from the message body; a malformed task is a PermanentError (retrying
    cannot fix it), so it is dead-lettered at once with the reason."""
    try:
        task = json.loads(body)
        return str(task["task"]), str(task["vendor"]), str(task["file"])
    except (ValueError, KeyError, TypeError) as exc:
        raise PermanentError(
            f'not an inventory task ({type(exc).__name__}: {exc}); expected {{"task", "vendor", "file"}}'
        ) from None


def handle(message: _Message, ctx: _Context) -> dict[str, Any]:
    """Reconcile one vendor file and apply it to the vendor's inventory record, once."""
    task_id, vendor, file = parse_task(message.body)
    try:
        stock = parse_stock(ctx.bucket.get(file))
    except ObjectNotFound:
        raise PermanentError(f"task {task_id}: vendor file {file!r} is not in the bucket") from None
    except ValueError as exc:
        raise PermanentError(f"task {task_id}: vendor file {file!r} is not sku,units CSV: {exc}") from None
    time.sleep(float(os.environ.get(WORK_SECONDS_ENV, "0.2")))
    units = sum(stock.values())
    applied = apply_once(ctx.state, vendor, task_id, units)
    result = {"task": task_id, "vendor": vendor, "skus": len(stock), "units": units, "applied": applied}
    # Overwriting the same key with the same content is idempotent by itself.
    ctx.bucket.put(f"results/{task_id}.json", json.dumps(result, sort_keys=True).encode())
    return result


def apply_once(state: StateStore, vendor: str, task_id: str, units: int) -> bool:
    """Add `units` to the vendor's record unless `task_id` is already in it. True if applied now."""
    key = record_key(vendor)
    for _ in range(MAX_CAS_ATTEMPTS):
        item = state.get(key)
        if item is None:
            try:
                state.put(key, {"applied": [task_id], "units": units}, if_absent=True)
                return True
            except ConflictError:
                continue
        applied = list(item.value.get("applied", []))
        if task_id in applied:
            return False
        value = {"applied": [*applied, task_id], "units": int(item.value.get("units", 0)) + units}
        try:
            state.put(key, value, if_version=item.version)
            return True
        except ConflictError:
            time.sleep(random.uniform(0.001, 0.01))
    raise ConflictError(key, f"still contended after {MAX_CAS_ATTEMPTS} compare-and-set attempts")


# -- the demo's inputs and its audit -------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    task: str
    vendor: str
    file: str
    units: int

    def body(self) -> bytes:
        return json.dumps({"task": self.task, "vendor": self.vendor, "file": self.file}).encode()


def make_tasks(bucket: Bucket, count: int, vendors: int = 100, start: int = 0, seed: int = 7) -> list[Task]:
    """Write `count` vendor stock files to the bucket and return one task per file."""
    rng = random.Random(seed + start)
    tasks: list[Task] = []
    for n in range(start, start + count):
        vendor = f"v{rng.randrange(vendors):03d}"
        lines = ["sku,units"]
        total = 0
        for _ in range(rng.randint(3, 12)):
            units = rng.randint(0, 500)
            total += units
            lines.append(f"SKU-{rng.randrange(10_000):05d},{units}")
        file = f"vendors/{vendor}/b{n:06d}.csv"
        bucket.put(file, ("\n".join(lines) + "\n").encode())
        tasks.append(Task(task=f"t{n:06d}", vendor=vendor, file=file, units=total))
    return tasks


@dataclass
class EffectAudit:
    """What the state store says happened, against what was sent."""

    sent: int
    done: int = 0
    duplicates: int = 0
    wrong_units: int = 0
    missing: list[str] = field(default_factory=list)
    unexpected: int = 0


def audit_effects(state: StateStore, tasks: Iterable[Task]) -> EffectAudit:
    """Count each task's effect in the vendor records: done once, twice (duplicate), or never."""
    by_vendor: dict[str, list[Task]] = {}
    for t in tasks:
        by_vendor.setdefault(t.vendor, []).append(t)
    audit = EffectAudit(sent=sum(len(v) for v in by_vendor.values()))
    for vendor, vendor_tasks in by_vendor.items():
        item = state.get(record_key(vendor))
        applied: list[str] = list(item.value.get("applied", [])) if item else []
        seen: dict[str, int] = {}
        for task_id in applied:
            seen[task_id] = seen.get(task_id, 0) + 1
        expected_ids = {t.task for t in vendor_tasks}
        audit.unexpected += sum(1 for k in seen if k not in expected_ids)
        audit.duplicates += sum(n - 1 for n in seen.values() if n > 1)
        for t in vendor_tasks:
            if t.task in seen:
                audit.done += 1
            else:
                audit.missing.append(t.task)
        # The record's total must be exactly the sum of what its id list says was applied.
        units = {t.task: t.units for t in vendor_tasks}
        if item is not None and int(item.value.get("units", 0)) != sum(
            units.get(k, 0) * n for k, n in seen.items()
        ):
            audit.wrong_units += 1
    return audit
