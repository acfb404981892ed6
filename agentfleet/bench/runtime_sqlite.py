"""Throughput of one agent process with a no-op handler on the SQLite backend, against huey's
SqliteHuey consumer (the peer) on the same machine, as a ratio (target: at least 5x).

Both run as real consumer processes with their default logging sent to /dev/null, one worker
thread each (AGENTFLEET_CONCURRENCY=1, `huey_consumer -w 1`), over a pre-filled queue file. The
rate is measured from the first message consumed to the queue being empty, polled from outside,
so process start-up is not counted against either.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from agentfleet.agent import contract
from agentfleet.bench import Figure, stop_process

NAME = "runtime_sqlite"
TARGET_RATIO = 5.0
ROOT = Path(__file__).resolve().parents[2]


def noop(message: object, ctx: object) -> None:
    """The benchmark's handler: does nothing, so the figure is the runtime's own cost."""


def _rate(
    total: int, remaining: Callable[[], int], process: subprocess.Popen[bytes], timeout: float
) -> float:
    """Messages per second from the first consumed message to an empty queue."""
    deadline = time.monotonic() + timeout
    start: float | None = None
    at_start = total
    try:
        while True:
            left = remaining()
            now = time.perf_counter()
            if start is None and left < total:
                start, at_start = now, left
            if left == 0 and start is not None:
                return at_start / max(now - start, 1e-9)
            if process.poll() is not None:
                raise RuntimeError(f"consumer exited with {process.returncode} before the queue emptied")
            if time.monotonic() > deadline:
                raise RuntimeError(f"consumer left {left} of {total} messages after {timeout:.0f}s")
            time.sleep(0.005)
    finally:
        stop_process(process)


def agentfleet_rate(messages: int, workdir: Path) -> float:
    from agentfleet.agent.backends.sqlite import SqliteBackend

    path = workdir / "agentfleet.db"
    queue = SqliteBackend(path)
    queue.send_many(b"{}" for _ in range(messages))
    env = dict(os.environ)
    env.update(
        {
            contract.BACKEND: "sqlite",
            contract.QUEUE: str(path),
            contract.HANDLER: f"{__name__}:noop",
            contract.CONCURRENCY: "1",
            contract.PORT: "0",
            "PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-c", "from agentfleet.agent.cli import agent_app; agent_app()", "run"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def remaining() -> int:
        stats = queue.stats()
        return stats.waiting + stats.in_flight

    try:
        return _rate(messages, remaining, process, timeout=300)
    finally:
        queue.close()


HUEY_APP = """
from huey import SqliteHuey

huey = SqliteHuey("bench", filename={path!r})


@huey.task()
def noop():
    return None
"""


def huey_rate(messages: int, workdir: Path) -> float:
    path = workdir / "huey.db"
    (workdir / "huey_bench_app.py").write_text(textwrap.dedent(HUEY_APP.format(path=str(path))))
    sys.path.insert(0, str(workdir))
    try:
        import huey_bench_app  # type: ignore[import-not-found]

        app = huey_bench_app.huey
        for _ in range(messages):
            huey_bench_app.noop()
        consumer = Path(sys.executable).parent / "huey_consumer"
        process = subprocess.Popen(
            [str(consumer), "huey_bench_app.huey", "-w", "1", "-k", "thread"],
            cwd=workdir,
            env=dict(os.environ, PYTHONPATH=str(workdir)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return _rate(messages, lambda: int(app.pending_count()), process, timeout=300)
    finally:
        sys.path.remove(str(workdir))
        sys.modules.pop("huey_bench_app", None)


def run(quick: bool) -> list[Figure]:
    messages = 3000 if quick else 20000
    with tempfile.TemporaryDirectory(prefix="agentfleet-bench-") as tmp:
        ours = agentfleet_rate(messages, Path(tmp))
        peer = huey_rate(messages, Path(tmp))
    ratio = ours / peer
    return [
        Figure(NAME, f"agent, no-op handler, SQLite ({messages} msgs)", ours, "msg/s"),
        Figure(NAME, f"huey SqliteHuey consumer ({messages} msgs)", peer, "msg/s"),
        Figure(NAME, "agent / huey", ratio, "x", target=f">= {TARGET_RATIO:g}x", met=ratio >= TARGET_RATIO),
    ]
