"""Helpers for runtime tests: an in-process worker on SQLite, and `agentfleet agent run` processes."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from agentfleet.agent import contract
from agentfleet.agent.backends.base import QueueBackend
from agentfleet.agent.backends.sqlite import SqliteBackend
from agentfleet.agent.context import Resources
from agentfleet.agent.handler import Handler, Invoker
from agentfleet.agent.middleware import Metrics, default_layers
from agentfleet.agent.state.base import StateStore
from agentfleet.agent.state.sqlite import SqliteStateStore
from agentfleet.agent.worker import DrainReport, Worker

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Running:
    worker: Worker
    backend: QueueBackend
    metrics: Metrics
    report: list[DrainReport] = field(default_factory=list)


def make_worker(
    backend: QueueBackend,
    handler: Handler,
    *,
    state_path: Path | None = None,
    state: StateStore | None = None,
    visibility_timeout: int = 2,
    max_receive_count: int = 3,
    concurrency: int = 1,
    min_backoff: float = 1.0,
    max_backoff: float = 2.0,
    drain_timeout: float = 10.0,
    wait_seconds: float = 0.5,
    handler_timeout: float = 0.0,
) -> Running:
    layers, metrics = default_layers(
        backend,
        visibility_timeout=visibility_timeout,
        max_receive_count=max_receive_count,
        min_backoff=min_backoff,
        max_backoff=max_backoff,
    )
    if state is None and state_path is not None:
        state = SqliteStateStore(state_path)
    # As the agent does: a ctx.once claim lives as long as the lease the broker grants.
    claim = min(visibility_timeout, backend.visibility_timeout)
    resources = Resources(state=state, once_claim_seconds=float(claim))
    worker = Worker(
        backend,
        Invoker(handler),
        resources,
        layers,
        concurrency=concurrency,
        wait_seconds=wait_seconds,
        drain_timeout=drain_timeout,
        handler_timeout=handler_timeout,
    )
    return Running(worker, backend, metrics)


@contextmanager
def running(run: Running) -> Iterator[Running]:
    """Run the worker in a thread for the duration of the block; stop and drain after it."""
    thread = threading.Thread(target=lambda: run.report.append(run.worker.run()), daemon=True)
    thread.start()
    try:
        yield run
    finally:
        run.worker.stop()
        thread.join(timeout=30)
        assert not thread.is_alive(), "worker did not drain"


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def sample(metric: Metrics, name: str) -> float:
    value = metric.registry.get_sample_value(name)
    return 0.0 if value is None else value


def settled(backend: SqliteBackend) -> bool:
    stats = backend.stats()
    return stats.waiting == 0 and stats.in_flight == 0


def agent_command() -> list[str]:
    """`agentfleet agent run`, through the root CLI when it imports (all its command groups exist),
    else through the runtime's own typer app — the same command function either way."""
    if importlib.util.find_spec("agentfleet.plan") is not None and _root_cli_imports():
        return [sys.executable, "-m", "agentfleet", "agent", "run"]
    return [sys.executable, "-c", "from agentfleet.agent.cli import agent_app; agent_app()", "run"]


_ROOT_CLI_OK: bool | None = None


def _root_cli_imports() -> bool:
    global _ROOT_CLI_OK
    if _ROOT_CLI_OK is None:
        probe = subprocess.run(
            [sys.executable, "-c", "import agentfleet.cli"], cwd=ROOT, capture_output=True, timeout=60
        )
        _ROOT_CLI_OK = probe.returncode == 0
    return _ROOT_CLI_OK


def agent_env(
    queue: Path, state: Path | None = None, extra: Mapping[str, object] | None = None
) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.update(
        {
            contract.BACKEND: "sqlite",
            contract.QUEUE: str(queue),
            contract.PORT: "0",
            contract.WARMUP: "0",
        }
    )
    if state is not None:
        env[contract.STATE] = str(state)
    env.update({k: str(v) for k, v in (extra or {}).items()})
    return env


def start_agent(env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115 - the child owns it
    return subprocess.Popen(agent_command(), env=dict(env), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def terminate_when_started(agent: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    """SIGTERM `agent` once it has logged "agent started" (or exited). A SIGTERM that arrives while
    the interpreter itself is still starting, before any of the agent's code runs, meets the default
    handler and kills the process (-15): no program can catch a signal before it starts. A test
    that just respawned an agent must wait for it, however slowly a loaded machine starts it."""
    wait_until(
        lambda: agent.poll() is not None or (log.exists() and b"agent started" in log.read_bytes()),
        timeout,
        f"the agent logging to {log.name} to start",
    )
    agent.send_signal(signal.SIGTERM)
