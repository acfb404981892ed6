"""The agent's HTTP endpoints, for the cloud's health checks and Prometheus:

- `/healthz` 200 while the consume loop is alive (its heartbeat is recent), else 503.
- `/ready`   200 once warm-up is over, the backend answers `ping()`, and the agent is not
  draining, else 503 with the reason — a draining agent takes no new traffic.
- `/metrics` Prometheus text format from the worker's registry.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from agentfleet.agent.backends.base import QueueBackend


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
    """A threaded HTTP server on `port` (0 = any free port; see `.port`)."""

    def __init__(self, state: HealthState, port: int, host: str = "0.0.0.0") -> None:
        self.state = state
        self._server = ThreadingHTTPServer((host, port), _handler_class(state))
        self._server.daemon_threads = True
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


def _handler_class(state: HealthState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
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
