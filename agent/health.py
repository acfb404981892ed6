"""The agent's HTTP endpoints, for the cloud's health checks and Prometheus:

- `/healthz` 200 while the consume loop is alive (its heartbeat is recent), else 503.
- `/ready`   200 once warm-up is over, the backend answers `ping()`, and the agent is not
  draining, else 503 with the reason — a draining agent takes no new traffic.
- `/metrics` Prometheus text format from the worker's registry.

The server is bounded against hostile or broken clients: a client that sends nothing for
`request_timeout` seconds is dropped, and at most `max_connections` are served at once (one
thread each); a connection beyond that is closed at once instead of costing another thread.
It binds AGENTFLEET_HEALTH_HOST: every interface by default (the platform probes the instance or
pod from outside), loopback in the local fleet.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from agentfleet.agent.backends.base import QueueBackend

#: Connections served at once. Probes are few (the platform's health check, a metrics scraper).
MAX_CONNECTIONS = 8
#: Seconds a client may stay silent before it is dropped (half-open connections, slow clients).
REQUEST_TIMEOUT_SECONDS = 5.0


class HealthState:
    """What the endpoints report; read from the worker, the backend and the clock."""

    def __init__(
        self,
        backend: QueueBackend,
        registry: CollectorRegistry,
        *,
        warmup_seconds: float,
        heartbeat: Callable[[], float],
        draining: Callable[[], bool],
        stale_after: float = 60.0,
        ping_every: float = 5.0,
        ping_every_when_ok: float = 60.0,
    ) -> None:
        self.backend = backend
        self.registry = registry
        self.started = time.monotonic()
        self.warmup_seconds = warmup_seconds
        self.heartbeat = heartbeat
        self.draining = draining
        self.stale_after = stale_after
        # A failing backend is re-checked quickly; a reachable one rarely. Probes hit /ready every
        # few seconds on every agent, and a broker "get queue" call is an admin operation with a
        # per-project quota (Pub/Sub: GetSubscription) that a large fleet would otherwise exhaust.
        self.ping_every = ping_every
        self.ping_every_when_ok = max(ping_every, ping_every_when_ok)
        self._pinged_at = -1e9
        self._ping_error: str | None = "not checked yet"
        self._lock = threading.Lock()

    def alive(self) -> tuple[bool, str]:
        age = time.monotonic() - self.heartbeat()
        if age > self.stale_after:
            return False, f"consume loop silent for {age:.0f}s"
        return True, "ok"

    def _backend_error(self) -> str | None:
        with self._lock:
            every = self.ping_every if self._ping_error is not None else self.ping_every_when_ok
            if time.monotonic() - self._pinged_at >= every:
                try:
                    self.backend.ping()
                    self._ping_error = None
                except Exception as e:
                    self._ping_error = f"{type(e).__name__}: {e}"
                self._pinged_at = time.monotonic()
            return self._ping_error

    def ready(self) -> tuple[bool, str]:
        if self.draining():
            return False, "draining"
        warming = self.warmup_seconds - (time.monotonic() - self.started)
        if warming > 0:
            return False, f"warming up ({warming:.0f}s left)"
        error = self._backend_error()
        if error:
            return False, f"backend unreachable: {error}"
        return True, "ok"


class HealthServer:
    """The endpoints on `host:port` (port 0 = any free port; see `.port`), bounded as the module says."""

    def __init__(
        self,
        state: HealthState,
        port: int,
        host: str = "0.0.0.0",
        *,
        max_connections: int = MAX_CONNECTIONS,
        request_timeout: float = REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        self.state = state
        self.host = host
        self._server = _BoundedServer((host, port), _handler_class(state, request_timeout), max_connections)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="agentfleet-http", daemon=True
        )

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _BoundedServer(ThreadingHTTPServer):
    """A thread per connection, up to `max_connections`; past that a new connection is closed."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], max_connections: int
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN (a DNS query at start-up) for a name
        # nothing here uses; bind only.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)  # full: shed it rather than start another thread
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()  # no thread started to release it
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def _handler_class(state: HealthState, request_timeout: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # StreamRequestHandler sets this on the socket: a read or write that waits longer raises,
        # and the connection is closed.
        timeout = request_timeout

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(state.registry), CONTENT_TYPE_LATEST)
            elif path in ("/healthz", "/ready"):
                ok, reason = state.alive() if path == "/healthz" else state.ready()
                body = json.dumps({"ok": ok, "reason": reason}).encode()
                self._send(200 if ok else 503, body, "application/json")
            else:
                self._send(404, b'{"error": "not found"}', "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # probes every few seconds: quiet
            return None

    return Handler
