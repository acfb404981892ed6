"""The busy-agent protector (agent/protection/base.py): it follows busy/idle with hysteresis, backs
off when throttled, and a failing platform never costs a message. Backends are fakes here; each
cloud's request is tested against a local server in test_protection_{aws,azure,kubernetes}.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from agentfleet.agent.backends.base import Message
from agentfleet.agent.middleware.base import SUCCEEDED, Outcome
from agentfleet.agent.protection import (
    LocalProtection,
    ProtectionBackend,
    ProtectionSettings,
    Protector,
    Throttled,
    open_protector,
)
from agentfleet.agent.settings import SettingsError


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())


class Recording(ProtectionBackend):
    """Records each call; `fail` decides per call whether (and how) it fails."""

    kind = "fake"

    def __init__(self, fail: Callable[[int, bool], Exception | None] = lambda n, p: None) -> None:
        self.calls: list[bool] = []
        self.attempts: list[bool] = []
        self.fail = fail
        self.lock = threading.Lock()

    def apply(self, protected: bool) -> None:
        with self.lock:
            self.attempts.append(protected)
            error = self.fail(len(self.attempts), protected)
            if error is not None:
                raise error
            self.calls.append(protected)


#: (method, path, headers, body) -> (status, extra headers, JSON body): a local API's answer.
Answer = Callable[[str, str, Any, bytes], tuple[int, dict[str, str], str]]


@contextmanager
def serve_http(answer: Answer) -> Iterator[str]:
    """Serve `answer` on a free loopback port (JSON replies); yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            status, extra, body = answer(self.command, self.path, self.headers, self.rfile.read(length))
            data = body.encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **extra}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_PATCH = do_POST = _reply  # noqa: N815 - http.server's naming

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def message(n: int = 1) -> Message:
    return Message(id=f"m{n}", body=b"{}", receipt=f"r{n}", delivery_count=1)


def ok(_: Message) -> Outcome:
    return Outcome(SUCCEEDED)


def metric(registry: CollectorRegistry, name: str, labels: dict[str, str] | None = None) -> float:
    value = registry.get_sample_value(name, labels or {})
    return 0.0 if value is None else value


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def protectors() -> Iterator[list[Protector]]:
    made: list[Protector] = []
    yield made
    for p in made:
        p.stop(timeout=2)


def protector(
    made: list[Protector], backend: ProtectionBackend, registry: CollectorRegistry, **kw: Any
) -> Protector:
    kw.setdefault("min_backoff", 0.01)
    kw.setdefault("max_backoff", 0.05)
    p = Protector(backend, registry, **kw)
    made.append(p)
    return p


def hold(p: Protector) -> tuple[threading.Event, threading.Thread]:
    """Run one message through the layer that stays in its handler until the event is set."""
    release = threading.Event()

    def handler(m: Message) -> Outcome:
        release.wait(10)
        return Outcome(SUCCEEDED)

    thread = threading.Thread(target=p.process, args=(message(), handler), daemon=True)
    thread.start()
    return release, thread


def test_start_clears_a_stale_flag_then_busy_protects_and_idle_unprotects_after_the_grace(
    registry: CollectorRegistry, protectors: list[Protector]
) -> None:
    backend = Recording()
    p = protector(protectors, backend, registry, idle_grace_seconds=0.2)
    assert wait_until(lambda: backend.calls == [False])  # a restarted agent may have left it on
    release, thread = hold(p)
    assert wait_until(lambda: backend.calls == [False, True])
    assert metric(registry, "agentfleet_busy") == 1
    assert metric(registry, "agentfleet_protected") == 1
    release.set()
    thread.join(5)
    assert metric(registry, "agentfleet_busy") == 0
    assert wait_until(lambda: backend.calls == [False, True, False])
    assert metric(registry, "agentfleet_protected") == 0
    assert metric(registry, "agentfleet_protection_changes_total") == 2


def test_a_steady_trickle_within_the_grace_makes_one_call_not_one_per_message(
    registry: CollectorRegistry, protectors: list[Protector]
) -> None:
    backend = Recording()
    p = protector(protectors, backend, registry, idle_grace_seconds=3600)
    assert wait_until(lambda: backend.calls == [False])
    for n in range(200):
        p.process(message(n), ok)
        if n == 0:
            assert wait_until(lambda: backend.calls == [False, True])
    time.sleep(0.1)  # give a wrong implementation the chance to call again
    assert backend.calls == [False, True]
    assert p.wanted() is True  # idle, still inside the grace


def test_without_hysteresis_the_same_trickle_would_call_per_message(
    registry: CollectorRegistry, protectors: list[Protector]
) -> None:
    """The control for the test above: with no grace, each idle gap is an unprotect call."""
    backend = Recording()
    p = protector(protectors, backend, registry, idle_grace_seconds=0)
    assert wait_until(lambda: backend.calls == [False])
    for _ in range(5):
        release, thread = hold(p)
        assert wait_until(lambda: backend.calls[-1] is True)
        release.set()
        thread.join(5)
        assert wait_until(lambda: backend.calls[-1] is False)
    assert backend.calls.count(True) == 5


def test_throttling_backs_off_then_protects_and_is_counted(
    registry: CollectorRegistry, protectors: list[Protector]
) -> None:
    def throttle_twice(n: int, protected: bool) -> Exception | None:
        return Throttled("Rate exceeded", retry_after=0.01) if protected and n in (2, 3) else None

    backend = Recording(throttle_twice)
    p = protector(protectors, backend, registry, idle_grace_seconds=3600)
    assert wait_until(lambda: backend.calls == [False])
    release, thread = hold(p)
    assert wait_until(lambda: backend.calls == [False, True])
    assert backend.attempts == [False, True, True, True]
    assert metric(registry, "agentfleet_protection_failures_total", {"reason": "throttled"}) == 2
    assert metric(registry, "agentfleet_protected") == 1
    release.set()
    thread.join(5)


def test_a_throttled_retry_waits_at_least_retry_after_and_backoff_stays_in_bounds(
    registry: CollectorRegistry, protectors: list[Protector]
) -> None:
    backend = Recording(lambda n, p: Throttled("slow down", retry_after=7.5))
    p = protector(protectors, backend, registry, min_backoff=1.0, max_backoff=60.0)
    p.stop(timeout=2)
    assert p._try_apply(True, 1) == 7.5  # the platform's Retry-After beats a 1 s backoff
    for attempt in range(1, 12):
        full = min(60.0, 2 ** (attempt - 1))
        assert full / 2 <= p._backoff(attempt) <= full


def test_a_failing_platform_never_fails_a_message_and_is_counted(
    registry: CollectorRegistry, protectors: list[Protector], capsys: pytest.CaptureFixture[str]
) -> None:
    backend = Recording(lambda n, p: PermissionError("AccessDenied: not authorized to SetInstanceProtection"))
    p = protector(protectors, backend, registry)
    outcomes = [p.process(message(n), ok) for n in range(20)]
    assert {o.result for o in outcomes} == {SUCCEEDED}
    assert wait_until(
        lambda: metric(registry, "agentfleet_protection_failures_total", {"reason": "error"}) >= 3
    )
    assert metric(registry, "agentfleet_protected") == 0
    assert backend.calls == []
    assert "AccessDenied" in capsys.readouterr().out


def test_stop_unprotects_once_so_a_restarted_agent_is_not_left_pinned(
    registry: CollectorRegistry, protectors: list[Protector]
) -> None:
    backend = Recording()
    p = protector(protectors, backend, registry, idle_grace_seconds=3600)
    release, thread = hold(p)
    assert wait_until(lambda: backend.calls[-1:] == [True])
    p.close()  # the worker's drain ended (here with a handler still running: it is exiting anyway)
    assert backend.calls[-1] is False
    assert metric(registry, "agentfleet_protected") == 0
    release.set()
    thread.join(5)


def test_none_reports_busy_but_calls_nothing(registry: CollectorRegistry) -> None:
    p = open_protector({}, registry)
    assert p.backend is None and p.kind == "none"
    seen: list[float] = []

    def handler(m: Message) -> Outcome:
        seen.append(metric(registry, "agentfleet_busy"))
        return Outcome(SUCCEEDED)

    p.process(message(), handler)
    assert seen == [1.0] and metric(registry, "agentfleet_busy") == 0
    assert "agentfleet_protected 0.0" in generate_latest(registry).decode()
    p.stop()


def test_local_protection_has_no_grace_and_follows_busy(
    registry: CollectorRegistry, protectors: list[Protector]
) -> None:
    p = open_protector({"AGENTFLEET_PROTECTION": "local"}, registry)
    protectors.append(p)
    assert isinstance(p.backend, LocalProtection) and p.idle_grace_seconds == 0
    release, thread = hold(p)
    assert wait_until(lambda: metric(registry, "agentfleet_protected") == 1)
    release.set()
    thread.join(5)
    assert wait_until(lambda: metric(registry, "agentfleet_protected") == 0)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"AGENTFLEET_PROTECTION": "always"}, "AGENTFLEET_PROTECTION='always' is unknown; choose one of"),
        ({"AGENTFLEET_PROTECTION": "aws-asg"}, "AGENTFLEET_GROUP is not set; AGENTFLEET_PROTECTION=aws-asg"),
        (
            {"AGENTFLEET_PROTECTION": "kubernetes-pod", "AGENTFLEET_POD_NAME": "agent-0"},
            "AGENTFLEET_POD_NAMESPACE is not set; AGENTFLEET_PROTECTION=kubernetes-pod needs it",
        ),
    ],
)
def test_bad_protection_settings_name_the_variable(env: dict[str, str], expected: str) -> None:
    with pytest.raises(SettingsError) as raised:
        ProtectionSettings.from_env(env)
    assert expected in str(raised.value)


def test_a_bad_protection_setting_stops_the_agent_at_startup_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from agentfleet.agent.cli import run_agent

    env = {
        "AGENTFLEET_BACKEND": "sqlite",
        "AGENTFLEET_QUEUE": str(tmp_path / "q.db"),
        "AGENTFLEET_HANDLER": "agentfleet.agent.examples.echo:handle",
        "AGENTFLEET_PORT": "0",
        "AGENTFLEET_PROTECTION": "aws-asg",
    }
    assert run_agent(env) == 2
    assert "AGENTFLEET_GROUP is not set" in capsys.readouterr().err


def test_a_worker_whose_platform_refuses_every_toggle_still_processes_every_message(tmp_path: Path) -> None:
    """The whole consume loop, not just the layer: the protector's failures stay off the message path."""
    from agentfleet.agent.backends.sqlite import SqliteBackend
    from agentfleet.agent.context import Resources
    from agentfleet.agent.handler import Invoker
    from agentfleet.agent.middleware import default_layers
    from agentfleet.agent.worker import Worker
    from tests.runtime.harness import Running, running, settled

    backend = SqliteBackend(tmp_path / "q.db", visibility_timeout=5)
    handled: list[bytes] = []
    layers, metrics = default_layers(backend, visibility_timeout=5, max_receive_count=3)
    refusing = Protector(
        Recording(lambda n, p: PermissionError("AccessDenied")), metrics.registry, min_backoff=0.01
    )
    worker = Worker(
        backend,
        Invoker(lambda m, ctx: handled.append(m.body)),
        Resources(state=None),
        [refusing, *layers],  # outermost, as agent/cli.py puts it
        concurrency=2,
        wait_seconds=0.2,
        drain_timeout=5,
    )
    run = Running(worker, backend, metrics)
    for n in range(30):
        backend.send(f"m{n}".encode())
    with running(run):
        assert wait_until(lambda: settled(backend) and len(handled) == 30)
    assert run.report[0].clean
    assert metric(run.metrics.registry, "agentfleet_messages_succeeded_total") == 30
    assert metric(run.metrics.registry, "agentfleet_protection_failures_total", {"reason": "error"}) >= 1
    assert metric(run.metrics.registry, "agentfleet_protected") == 0


def test_the_agent_wires_the_protector_outermost_and_serves_its_metrics(tmp_path: Path) -> None:
    import urllib.request

    from agentfleet.agent.cli import build_agent
    from agentfleet.agent.settings import Settings

    env = {
        "AGENTFLEET_BACKEND": "sqlite",
        "AGENTFLEET_QUEUE": str(tmp_path / "q.db"),
        "AGENTFLEET_HANDLER": "agentfleet.agent.examples.echo:handle",
        "AGENTFLEET_PORT": "0",
        "AGENTFLEET_PROTECTION": "local",
    }
    worker, server, _ = build_agent(Settings.from_env(env), env)
    server.start()
    try:
        assert isinstance(worker.middleware[0], Protector) and worker.middleware[0].kind == "local"
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as response:
            text = response.read().decode()
        assert "agentfleet_busy 0.0" in text and "agentfleet_protected" in text
    finally:
        server.stop()
        worker.middleware[0].close()
        worker.backend.close()
