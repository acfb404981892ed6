"""The supervisor reads each agent's /healthz and /metrics every tick; an agent that exits mid-answer
(a drained agent closing its server) must read as "not answering", never crash the supervisor.
Seen in a full `make test`: `http.client.IncompleteRead` escaped `scrape` and ended `poll`."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from agentfleet.local.supervisor import metrics_text, probe, scrape


@contextmanager
def cut_short() -> Iterator[int]:
    """A server that promises 3,900 bytes, sends a few, and closes: an agent exiting mid-answer."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3900\r\n\r\n# HELP agentfleet_")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        server.close()


def test_an_answer_cut_short_reads_as_not_answering() -> None:
    with cut_short() as port:
        assert metrics_text(port, 5.0) is None
        assert scrape(port, 5.0) is None
        assert probe(port, "/healthz", 5.0) is True  # the status line arrived: 200


def test_a_page_that_does_not_parse_reads_as_not_answering(monkeypatch: pytest.MonkeyPatch) -> None:
    import agentfleet.local.supervisor as supervisor

    monkeypatch.setattr(supervisor, "metrics_text", lambda port, timeout: "agentfleet_in_flight{ 1\n")
    assert supervisor.scrape(1, 1.0) is None
