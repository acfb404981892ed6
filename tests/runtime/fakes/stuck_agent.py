"""A stand-in agent whose /ready is fine but whose /healthz fails, as an agent with a stuck event
loop would answer: run as a script (`python stuck_agent.py`) on AGENTFLEET_PORT."""

import os
from http.server import BaseHTTPRequestHandler, HTTPServer


class StuckAgent(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(200 if self.path == "/ready" else 503)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", int(os.environ["AGENTFLEET_PORT"])), StuckAgent).serve_forever()
