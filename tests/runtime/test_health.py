"""/healthz, /ready and /metrics over real HTTP, served for a worker consuming a real SQLite queue."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from agentfleet.agent import contract
from agentfleet.agent.backends.base import Message
from agentfleet.agent.backends.sqlite import SqliteBackend
from agentfleet.agent.context import Context
from agentfleet.agent.handler import PermanentError
from agentfleet.agent.health import HealthServer, HealthState
from agentfleet.agent.settings import Settings, SettingsError
from tests.runtime.fakes.brokers import CountingBroker, UnreachableBroker
from tests.runtime.harness import (
    ROOT,
    Running,
    agent_command,
    agent_env,
    make_worker,
    running,
    settled,
    wait_until,
)


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def serve(run: Running, warmup: float = 0.0, stale_after: float = 60.0) -> HealthServer:
    state = HealthState(
        run.backend,
        run.metrics.registry,
        warmup_seconds=warmup,
        heartbeat=lambda: run.worker.heartbeat,
        draining=lambda: run.worker.draining,
        stale_after=stale_after,
        ping_every=0.0,
    )
    return HealthServer(state, 0, host="127.0.0.1").start()


@pytest.fixture
def queue(tmp_path: Path) -> SqliteBackend:
    return SqliteBackend(tmp_path / "queue.db", visibility_timeout=5)


@pytest.fixture
def served(queue: SqliteBackend) -> Iterator[tuple[Running, HealthServer]]:
    def handle(message: Message, ctx: Context) -> None:
        if message.body == b"poison":
            raise PermanentError("poison")
        time.sleep(0.01)

    run = make_worker(queue, handle)
    server = serve(run)
    try:
        yield run, server
    finally:
        server.stop()


def test_ready_is_false_during_warmup_then_true(queue: SqliteBackend) -> None:
    run = make_worker(queue, lambda m, ctx: None)
    server = serve(run, warmup=1.0)
    try:
        with running(run):
            status, body = get(server.port, "/ready")
            assert status == 503 and "warming up" in json.loads(body)["reason"]
            assert get(server.port, "/healthz")[0] == 200, "a warming agent is alive"
            time.sleep(1.1)
            assert get(server.port, "/ready") == (200, json.dumps({"ok": True, "reason": "ok"}))
    finally:
        server.stop()


def test_ready_is_false_while_draining_and_healthz_stays_true(tmp_path: Path) -> None:
    queue = SqliteBackend(tmp_path / "queue.db", visibility_timeout=5)
    started = threading.Event()

    def slow(message: Message, ctx: Context) -> None:
        started.set()
        time.sleep(1.5)

    queue.send(b"slow")
    run = make_worker(queue, slow)
    server = serve(run)
    try:
        with running(run):
            assert get(server.port, "/ready")[0] == 200
            assert started.wait(5)
            run.worker.stop()
            status, body = get(server.port, "/ready")
            assert (status, json.loads(body)["reason"]) == (503, "draining")
            assert get(server.port, "/healthz")[0] == 200
        assert settled(queue), "the in-flight message finished during the drain"
    finally:
        server.stop()


def test_ready_is_false_when_the_backend_is_unreachable(tmp_path: Path) -> None:
    run = make_worker(UnreachableBroker(tmp_path / "queue.db"), lambda m, ctx: None)
    server = serve(run)
    try:
        status, body = get(server.port, "/ready")
        assert status == 503
        assert "backend unreachable" in body and "no route to broker" in body
    finally:
        server.stop()


def test_healthz_fails_when_the_consume_loop_stops_beating(queue: SqliteBackend) -> None:
    run = make_worker(queue, lambda m, ctx: None)
    server = serve(run, stale_after=0.3)
    try:
        run.worker.heartbeat = time.monotonic()
        assert get(server.port, "/healthz")[0] == 200
        time.sleep(0.5)  # the loop is not running: no heartbeat
        status, body = get(server.port, "/healthz")
        assert status == 503 and "silent" in body
    finally:
        server.stop()


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def test_metrics_count_outcomes(queue: SqliteBackend, served: tuple[Running, HealthServer]) -> None:
    run, server = served
    queue.send_many([b"ok"] * 5 + [b"poison"])
    with running(run):
        wait_until(lambda: settled(queue), 10, "all settled")
        status, text = get(server.port, "/metrics")
    assert status == 200
    assert metric(text, "agentfleet_messages_received_total") == 6
    assert metric(text, "agentfleet_messages_succeeded_total") == 5
    assert metric(text, "agentfleet_messages_failed_total") == 1
    assert metric(text, "agentfleet_messages_dead_lettered_total") == 1
    assert metric(text, "agentfleet_messages_in_flight") == 0
    assert metric(text, "agentfleet_handler_duration_seconds_count") == 6
    assert metric(text, "agentfleet_handler_duration_seconds_sum") >= 5 * 0.01
    assert "agentfleet_lease_extensions_total" in text


def test_in_flight_gauge_shows_running_handlers(tmp_path: Path) -> None:
    queue = SqliteBackend(tmp_path / "queue.db", visibility_timeout=5)
    release = threading.Event()
    queue.send_many([b"a", b"b", b"c"])
    run = make_worker(queue, lambda m, ctx: release.wait(10), concurrency=3)
    server = serve(run)
    try:
        with running(run):
            wait_until(
                lambda: metric(get(server.port, "/metrics")[1], "agentfleet_messages_in_flight") == 3,
                5,
                "three handlers in flight",
            )
            release.set()
            wait_until(lambda: settled(queue), 5, "all settled")
            assert metric(get(server.port, "/metrics")[1], "agentfleet_messages_in_flight") == 0
    finally:
        server.stop()


def test_unknown_path_is_404(served: tuple[Running, HealthServer]) -> None:
    _, server = served
    assert get(server.port, "/nope")[0] == 404


def test_a_reachable_backend_is_pinged_rarely_and_a_failing_one_soon(tmp_path: Path) -> None:
    broker = CountingBroker(tmp_path / "q.db")
    state = HealthState(
        broker,
        CollectorRegistry(),
        warmup_seconds=0,
        heartbeat=time.monotonic,
        draining=lambda: False,
        ping_every=0.05,
        ping_every_when_ok=0.5,
    )
    assert state.ready()[0] and broker.pings == 1
    for _ in range(5):  # probes every 20 ms: answered from the last ping, not a broker call each
        time.sleep(0.02)
        assert state.ready()[0]
    assert broker.pings == 1
    broker.down = True
    wait_until(lambda: not state.ready()[0], 2, "the failure is noticed within the quiet interval")
    failing_at = broker.pings
    time.sleep(0.12)
    assert not state.ready()[0] and broker.pings > failing_at  # re-checked at the short interval
    broker.down = False
    wait_until(lambda: state.ready()[0], 2, "ready again once the broker answers")


# -- hostile clients (issue 15, finding 9) ---------------------------------------------------


def silent_connections(port: int, count: int) -> list[socket.socket]:
    """`count` clients that connect and never send a byte (half-open, as a scanner leaves them)."""
    return [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]


def closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(0.05)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


def test_half_open_connections_are_capped_and_timed_out(queue: SqliteBackend) -> None:
    run = make_worker(queue, lambda m, ctx: None)
    run.worker.heartbeat = time.monotonic()
    state = HealthState(
        run.backend,
        run.metrics.registry,
        warmup_seconds=0,
        heartbeat=time.monotonic,
        draining=lambda: False,
        ping_every=0.0,
    )
    threads_before = threading.active_count()
    server = HealthServer(state, 0, host="127.0.0.1", max_connections=4, request_timeout=0.5).start()
    clients = silent_connections(server.port, 40)
    try:
        # The server accepts in order: once a later client is answered or shed, all 40 were seen.
        try:
            get(server.port, "/healthz")
        except OSError:
            pass  # shed while the cap is full: that is the point
        assert threading.active_count() - threads_before <= 4 + 1, "one thread per connection"
        wait_until(lambda: all(closed_by_server(c) for c in clients), 30, "silent clients timed out")
        wait_until(lambda: get(server.port, "/healthz")[0] == 200, 30, "answers again once they are gone")
    finally:
        for c in clients:
            c.close()
        server.stop()


def test_the_bind_address_is_a_setting_and_defaults_to_every_interface() -> None:
    base = {contract.BACKEND: "sqlite", contract.QUEUE: "q.db"}
    assert Settings.from_env(base).health_host == "0.0.0.0"
    assert Settings.from_env({**base, contract.HEALTH_HOST: "127.0.0.1"}).health_host == "127.0.0.1"
    with pytest.raises(SettingsError, match="AGENTFLEET_HEALTH_HOST='localhost' must be an IP address"):
        Settings.from_env({**base, contract.HEALTH_HOST: "localhost"})


def test_a_server_on_loopback_is_not_reachable_on_other_interfaces(queue: SqliteBackend) -> None:
    run = make_worker(queue, lambda m, ctx: None)
    server = serve(run)
    try:
        assert server.host == "127.0.0.1"
        assert get(server.port, "/nope")[0] == 404
    finally:
        server.stop()


def test_a_port_already_taken_exits_2_with_one_line_naming_the_variable(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = agent_env(
            tmp_path / "queue.db",
            extra={contract.HANDLER: "tests.runtime.handlers:slow_handler", contract.PORT: port},
        )
        result = subprocess.run(
            agent_command(), env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
        )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"AGENTFLEET_PORT={port}" in lines[0] and "in use" in lines[0]


def test_local_agents_bind_loopback(tmp_path: Path) -> None:
    from agentfleet.local.stack import LocalPaths, local_environment
    from tests.local.helpers import tiny_config

    env = local_environment(tiny_config(), LocalPaths(tmp_path).create(), 8123, None)
    assert Settings.from_env(env).health_host == "127.0.0.1"
