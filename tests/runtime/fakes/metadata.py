"""Local HTTP servers that speak the cloud metadata protocols the termination watchers use.

`AwsPeer` serves, on one port:
- IMDSv2 (EC2 user guide, "Use IMDSv2"): `PUT /latest/api/token` needs the header
  `X-aws-ec2-metadata-token-ttl-seconds` (1-21,600, else 400) and returns a token; every GET
  without a valid `X-aws-ec2-metadata-token` gets 401; `latest/meta-data/instance-id` and
  `latest/meta-data/autoscaling/target-lifecycle-state` (InService, then Terminated) are served;
  `latest/meta-data/spot/instance-action` is 404 until a Spot interruption is announced, then
  `{"action": "terminate" | "stop" | "hibernate", "time": "...Z"}` (EC2 user guide, "Spot
  Instance interruption notices"); an unknown path is 404.
- the EC2 Auto Scaling Query API (`POST /`, form-encoded `Action=...&Version=2011-01-01`), for
  `RecordLifecycleActionHeartbeat` and `CompleteLifecycleAction`: a request naming an unknown
  hook, group or instance gets the API's `ValidationError` (400); a completed action cannot be
  heartbeated or completed again ("No active Lifecycle Action found"), as on AWS.
  boto3 talks to it over HTTP with its real serializer, so the request shape is boto3's.

`AzurePeer` serves Azure IMDS (Scheduled Events docs): every request needs `Metadata: true` (else
400); `GET /metadata/instance/compute/name?...&format=text`; `GET /metadata/scheduledevents?
api-version=2020-07-01` returns `{"DocumentIncarnation", "Events": [...]}`; `POST` of the same
path with `{"StartRequests": [{"EventId": ...}]}` approves: the event is marked Started and
then leaves the document; an unknown EventId is 400.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class AwsPeer:
    instance_id: str = "i-0123456789abcdef0"
    group: str = "moodring-agents"
    hook: str = "moodring-drain"
    target_state: str = "InService"
    #: The Spot interruption notice's JSON, once EC2 announces one ("" = none yet: 404).
    spot_action: str = ""
    tokens: set[str] = field(default_factory=set)
    calls: list[dict[str, str]] = field(default_factory=list)
    unauthorized_gets: int = 0
    action_open: bool = True
    url: str = ""

    def answer(self, handler: BaseHTTPRequestHandler, method: str) -> tuple[int, str, str]:
        path = urlsplit(handler.path).path
        if method == "PUT" and path == "/latest/api/token":
            ttl = handler.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
            if not ttl.isdigit() or not 1 <= int(ttl) <= 21_600:
                return 400, "text/plain", "bad ttl"
            token = uuid.uuid4().hex
            self.tokens.add(token)
            return 200, "text/plain", token
        if method == "GET" and path.startswith("/latest/"):
            if handler.headers.get("X-aws-ec2-metadata-token") not in self.tokens:
                self.unauthorized_gets += 1
                return 401, "text/plain", "Unauthorized"
            values = {
                "/latest/meta-data/instance-id": self.instance_id,
                "/latest/meta-data/autoscaling/target-lifecycle-state": self.target_state,
                "/latest/meta-data/spot/instance-action": self.spot_action,
            }
            if values.get(path):
                return 200, "text/plain", values[path]
            return 404, "text/plain", "Not Found"
        if method == "POST" and path == "/":
            length = int(handler.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(handler.rfile.read(length).decode()).items()}
            return self._autoscaling(form)
        return 404, "text/plain", "Not Found"

    def _autoscaling(self, form: dict[str, str]) -> tuple[int, str, str]:
        action = form.get("Action", "")
        self.calls.append(form)
        if action not in ("RecordLifecycleActionHeartbeat", "CompleteLifecycleAction"):
            return _aws_error("InvalidAction", f"{action} is not served here")
        if (form.get("LifecycleHookName"), form.get("AutoScalingGroupName"), form.get("InstanceId")) != (
            self.hook,
            self.group,
            self.instance_id,
        ):
            return _aws_error("ValidationError", "No Lifecycle Hook / group / instance by that name")
        if not self.action_open:
            return _aws_error(
                "ValidationError", f"No active Lifecycle Action found with instance ID {self.instance_id}"
            )
        if action == "CompleteLifecycleAction":
            if form.get("LifecycleActionResult") not in ("CONTINUE", "ABANDON"):
                return _aws_error("ValidationError", "LifecycleActionResult must be CONTINUE or ABANDON")
            self.action_open = False
        body = (
            f'<{action}Response xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">'
            f"<{action}Result/><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
            f"</{action}Response>"
        )
        return 200, "text/xml", body

    def actions(self, name: str) -> list[dict[str, str]]:
        return [c for c in self.calls if c.get("Action") == name]


def _aws_error(code: str, message: str) -> tuple[int, str, str]:
    body = (
        '<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><Error><Type>Sender</Type>'
        f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>{uuid.uuid4()}</RequestId>"
        "</ErrorResponse>"
    )
    return 400, "text/xml", body


@dataclass
class AzurePeer:
    instance_name: str = "moodring_3"
    incarnation: int = 1
    events: list[dict[str, Any]] = field(default_factory=list)
    approvals: list[str] = field(default_factory=list)
    url: str = ""

    def schedule(self, event_type: str, resources: list[str]) -> str:
        event_id = str(uuid.uuid4()).upper()
        self.events.append(
            {
                "EventId": event_id,
                "EventType": event_type,
                "ResourceType": "VirtualMachine",
                "Resources": resources,
                "EventStatus": "Scheduled",
                "NotBefore": "Mon, 23 Nov 2026 18:30:00 GMT",
                "Description": "",
                "EventSource": "Platform",
                "DurationInSeconds": -1,
            }
        )
        self.incarnation += 1
        return event_id

    def answer(self, handler: BaseHTTPRequestHandler, method: str) -> tuple[int, str, str]:
        if handler.headers.get("Metadata") != "true":
            return (
                400,
                "application/json",
                json.dumps({"error": "Bad request. Required metadata header not specified"}),
            )
        parts = urlsplit(handler.path)
        query = parse_qs(parts.query)
        if parts.path == "/metadata/instance/compute/name" and query.get("format") == ["text"]:
            return 200, "text/plain", self.instance_name
        if parts.path == "/metadata/scheduledevents" and query.get("api-version") == ["2020-07-01"]:
            if method == "GET":
                document = {"DocumentIncarnation": self.incarnation, "Events": self.events}
                return 200, "application/json", json.dumps(document)
            if method == "POST":
                length = int(handler.headers.get("Content-Length", "0"))
                body = json.loads(handler.rfile.read(length) or b"{}")
                ids = [r.get("EventId") for r in body.get("StartRequests", [])]
                known = {e["EventId"] for e in self.events}
                if not ids or any(i not in known for i in ids):
                    return 400, "application/json", json.dumps({"error": "Unknown EventId"})
                self.approvals.extend(str(i) for i in ids)
                self.events = [e for e in self.events if e["EventId"] not in ids]
                self.incarnation += 1
                return 200, "application/json", ""
        return 404, "application/json", json.dumps({"error": "Not found"})


@contextmanager
def serve(peer: AwsPeer | AzurePeer) -> Iterator[str]:
    """Run `peer` on a free loopback port; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, method: str) -> None:
            status, content_type, body = peer.answer(self, method)
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._reply("GET")

        def do_PUT(self) -> None:  # noqa: N802
            self._reply("PUT")

        def do_POST(self) -> None:  # noqa: N802
            self._reply("POST")

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    peer.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield peer.url
    finally:
        server.shutdown()
        server.server_close()
