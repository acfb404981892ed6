"""`free_port()`: one loopback TCP port the OS says is free, for anything this project starts on
this machine (local agents, benchmark peers, test peers)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port free on 127.0.0.1 right now. Whoever binds it a moment later may still lose a race
    with another process; callers treat that like any failed start."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
