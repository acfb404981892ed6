"""The real test peers and what tests do with them: moto's server (SQS, DynamoDB, S3, Auto Scaling
over HTTP) and Azurite (Azure Storage: Tables and Blob), each its own process on a free loopback
port. The session fixtures that start them are in tests/runtime/conftest.py; a missing peer skips
locally and fails in CI (require_peer).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentfleet.ports import free_port
from tests.peer_check import ROOT

#: Azurite's well-known development account (documented in Azurite's README; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# -- moto server ----------------------------------------------------------------------------


def moto_server_binary() -> str | None:
    candidate = ROOT / ".venv" / "bin" / "moto_server"
    if candidate.exists():
        return str(candidate)
    return shutil.which("moto_server")


@dataclass(frozen=True)
class MotoServer:
    endpoint_url: str
    region: str = "us-east-1"

    def client(self, service: str) -> object:
        import boto3

        make: Any = boto3.client
        return make(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def reset(self) -> None:
        """Forget every resource (moto's documented reset endpoint)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()


#: moto's own server app, served one request at a time (see `moto_server_serial`).
_SERIAL_MOTO = (
    "import sys\n"
    "from moto.server import DomainDispatcherApplication, create_backend_app\n"
    "from werkzeug.serving import run_simple\n"
    "app = DomainDispatcherApplication(create_backend_app)\n"
    "run_simple('127.0.0.1', int(sys.argv[1]), app, threaded=False)\n"
)


def run_moto(binary: str) -> Iterator[MotoServer]:
    """moto in SERVER mode (`moto_server`), spoken to by boto3 over HTTP (not the in-process
    decorator). Threaded, so an SQS long poll does not hold up other requests."""
    yield from _start_moto([binary, "-H", "127.0.0.1", "-p"], "moto_server")


def run_moto_serial() -> Iterator[MotoServer]:
    """moto's server app handling one request at a time, for DynamoDB.

    DynamoDB applies a conditional write atomically per item. moto's DynamoDB backend checks a
    ConditionExpression and writes without a lock, so on the threaded `moto_server` two racing
    put-if-absent calls can both succeed (seen about once in 300 rounds of 8 racers). Serving
    requests one at a time restores the atomicity the real service documents; the code under
    test and the HTTP path are the same."""
    yield from _start_moto([sys.executable, "-c", _SERIAL_MOTO], "moto (serial)")


def _start_moto(command: list[str], what: str) -> Iterator[MotoServer]:
    port = free_port()
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", MOTO_PORT=str(port))
    process = subprocess.Popen(
        [*command, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    try:
        _wait_for_port(port, process, what)
        yield MotoServer(endpoint_url=f"http://127.0.0.1:{port}")
    finally:
        _stop(process)


# -- Azurite --------------------------------------------------------------------------------


def azurite_binary() -> str | None:
    found = shutil.which("azurite")
    if found:
        return found
    candidate = ROOT / ".peers" / "node_modules" / ".bin" / "azurite"
    return str(candidate) if candidate.exists() else None


@dataclass(frozen=True)
class Azurite:
    blob_port: int
    table_port: int

    @property
    def blob_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.blob_port}/{AZURITE_ACCOUNT}"

    @property
    def table_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.table_port}/{AZURITE_ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={self.blob_endpoint};TableEndpoint={self.table_endpoint};"
        )


def run_azurite(binary: str) -> Iterator[Azurite]:
    """Azurite (the Azure Storage emulator from npm) with Blob and Table services, in memory."""
    blob_port, queue_port, table_port = free_port(), free_port(), free_port()
    workdir = Path(tempfile.mkdtemp(prefix="azurite-"))  # its debug log / extent scratch, if any
    process = subprocess.Popen(
        [
            binary,
            "--silent",
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--disableProductStyleUrl",
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(blob_port),
            "--queueHost",
            "127.0.0.1",
            "--queuePort",
            str(queue_port),
            "--tableHost",
            "127.0.0.1",
            "--tablePort",
            str(table_port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=workdir,
    )
    try:
        _wait_for_port(blob_port, process, "azurite (blob)")
        _wait_for_port(table_port, process, "azurite (table)")
        yield Azurite(blob_port=blob_port, table_port=table_port)
    finally:
        _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


def http_ok(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
        return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


#: Top-level packages of the cloud SDKs; none may load just because a runtime module is imported.
CLOUD_SDKS = ("boto3", "botocore", "azure", "google")


def sdks_loaded_by_import(module: str) -> list[str]:
    """The cloud SDK packages a fresh interpreter has loaded after `import module` (should be none:
    an SDK is imported only when its backend is opened)."""
    code = (
        f"import sys, {module}\n"
        f"print(','.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({CLOUD_SDKS!r}))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True, timeout=60
    )
    return [name for name in result.stdout.strip().split(",") if name]


# -- the real worker over a cloud backend ---------------------------------------------------

SCENARIO_PLAIN = [f"m{i}".encode() for i in range(6)]


def run_worker_scenario(
    backend: Any, *, visibility_timeout: int, max_receive_count: int
) -> dict[bytes, list[int]]:
    """Run the runtime's real worker (default middleware, 3 handler threads) over `backend` with
    six plain messages, one that fails once (`flaky`), one that runs for 2.5 leases (`slow`) and
    one permanent failure (`poison`). Returns the delivery counts each body was handled with."""
    from agentfleet.agent.handler import PermanentError
    from tests.runtime.harness import make_worker, running, wait_until

    attempts: dict[bytes, list[int]] = {}
    done: set[bytes] = set()
    lock = threading.Lock()

    def handler(message: Any, ctx: Any) -> None:
        with lock:
            attempts.setdefault(message.body, []).append(message.delivery_count)
        if message.body == b"poison":
            raise PermanentError("order 42 has no customer")
        if message.body == b"flaky" and message.delivery_count == 1:
            raise RuntimeError("downstream busy")
        if message.body == b"slow":
            time.sleep(visibility_timeout * 2.5)
        with lock:
            done.add(message.body)

    for body in [*SCENARIO_PLAIN, b"flaky", b"slow", b"poison"]:
        backend.send(body)
    expected = {*SCENARIO_PLAIN, b"flaky", b"slow"}
    run = make_worker(
        backend,
        handler,
        visibility_timeout=visibility_timeout,
        max_receive_count=max_receive_count,
        concurrency=3,
        min_backoff=1,
        max_backoff=1,
        wait_seconds=1.0,
    )
    with running(run):
        wait_until(lambda: done == expected, 60, "every good message handled")
        time.sleep(visibility_timeout + 1.5)  # long enough for a wrongly kept message to come back
    return attempts


def assert_scenario(attempts: dict[bytes, list[int]]) -> None:
    """Each plain message once; `flaky` retried once with a higher count; `slow` once (its lease
    was extended); `poison` once (dead-lettered at once, not retried)."""
    for body in SCENARIO_PLAIN:
        assert attempts[body] == [1], body
    assert attempts[b"flaky"] == [1, 2]
    assert attempts[b"slow"] == [1], "the lease keeper must keep a long task from a second delivery"
    assert attempts[b"poison"] == [1]
