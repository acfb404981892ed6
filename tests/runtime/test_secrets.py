"""The agent reads its secrets from each cloud's store at start, by reference, and never shows a value.

AWS runs against moto's server (Secrets Manager and SSM over HTTP, boto3's real requests). Key
Vault and Secret Manager have no emulator: local HTTP servers answer their documented REST calls
(Key Vault "Get Secret", `projects.secrets.versions.access`), including throttling and denial.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from agentfleet.agent.secrets import SecretError, parse_references, resolve, store_for
from agentfleet.agent.secrets.aws import AwsSecrets
from agentfleet.agent.secrets.azure import KeyVaultSecrets
from agentfleet.agent.secrets.gcp import SecretManagerSecrets
from tests.runtime.peers import MotoServer

VALUE = "s3cr3t-value-never-shown"


@dataclass
class RestStore:
    """Answers GET path -> JSON; `throttle` answers 429 that many times first; `deny` answers 403."""

    answers: dict[str, Any]
    token: str = "token-1"
    throttle: int = 0
    deny: bool = False
    seen: list[tuple[str, dict[str, list[str]], str]] = field(default_factory=list)


@contextmanager
def serving(store: RestStore) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server hook's name
            url = urlsplit(self.path)
            store.seen.append((url.path, parse_qs(url.query), self.headers.get("Authorization", "")))
            if store.throttle > 0:
                store.throttle -= 1
                return self._answer(429, {"error": "throttled"})
            if store.deny or self.headers.get("Authorization") != f"Bearer {store.token}":
                return self._answer(403, {"error": {"code": "Forbidden"}})
            if url.path not in store.answers:
                return self._answer(404, {"error": {"code": "SecretNotFound"}})
            return self._answer(200, store.answers[url.path])

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# -- the reference and the store it names ------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "kind"),
    [
        ("arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf", "aws"),
        ("arn:aws:ssm:eu-west-1:123456789012:parameter/prod/db", "aws"),
        ("/prod/db/password", "aws"),
        ("https://acme-vault.vault.azure.net/secrets/db", "azure"),
        ("https://acme-vault.vault.azure.net/secrets/db/0123abcd", "azure"),
        ("projects/acme/secrets/db", "gcp"),
        ("projects/acme/secrets/db/versions/3", "gcp"),
    ],
)
def test_the_reference_names_the_store(reference: str, kind: str) -> None:
    class Recording:
        def read(self, reference: str) -> str:
            return kind

    assert store_for(reference, {kind: Recording()}).read(reference) == kind


def test_a_reference_no_store_knows_is_an_error_naming_it() -> None:
    with pytest.raises(SecretError, match="'vault://db' is not a secret reference"):
        resolve({"DB_PASSWORD": "vault://db"})


def test_malformed_secrets_variable_is_an_error_naming_it() -> None:
    with pytest.raises(SecretError, match="AGENTFLEET_SECRETS must be a JSON object"):
        parse_references("[1, 2]")
    assert parse_references(None) == {}
    assert parse_references('{"A": "projects/p/secrets/a"}') == {"A": "projects/p/secrets/a"}


# -- AWS, on moto's server ---------------------------------------------------------------------


@pytest.mark.peer
def test_aws_secrets_manager_and_ssm_secure_strings_resolve_with_the_agents_credentials(
    moto_server: MotoServer,
) -> None:
    secrets: Any = moto_server.client("secretsmanager")
    ssm: Any = moto_server.client("ssm")
    arn = secrets.create_secret(Name="moodring-api-key", SecretString=VALUE)["ARN"]
    ssm.put_parameter(Name="/moodring/db", Value="db-pass", Type="SecureString")
    store = AwsSecrets(
        clients={("secretsmanager", moto_server.region): secrets, ("ssm", moto_server.region): ssm}
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AGENTFLEET_REGION", moto_server.region)
        values = resolve({"API_KEY": arn, "DB_PASSWORD": "/moodring/db"}, {"aws": store})
    assert values == {"API_KEY": VALUE, "DB_PASSWORD": "db-pass"}


@pytest.mark.peer
def test_an_aws_secret_that_is_missing_is_an_error_naming_the_variable_not_a_value(
    moto_server: MotoServer,
) -> None:
    secrets: Any = moto_server.client("secretsmanager")
    missing = f"arn:aws:secretsmanager:{moto_server.region}:123456789012:secret:nope-AbCdEf"
    store = AwsSecrets(clients={("secretsmanager", moto_server.region): secrets})
    with pytest.raises(SecretError) as err:
        resolve({"API_KEY": missing}, {"aws": store})
    assert str(err.value) == f"API_KEY: {missing} could not be read: ResourceNotFoundException"


# -- Azure Key Vault, over its REST API --------------------------------------------------------


def test_key_vault_reads_the_current_version_with_a_bearer_token_and_the_documented_api_version() -> None:
    rest = RestStore(answers={"/secrets/db": {"value": VALUE, "id": "https://v.vault.azure.net/secrets/db/1"}})
    with serving(rest) as url:
        store = KeyVaultSecrets(token=lambda: "token-1", base_url=url)
        assert resolve({"DB": "https://acme.vault.azure.net/secrets/db"}, {"azure": store}) == {"DB": VALUE}
    path, query, auth = rest.seen[0]
    assert (path, query["api-version"], auth) == ("/secrets/db", ["7.4"], "Bearer token-1")


def test_key_vault_throttling_is_retried_and_a_denial_is_an_error_without_the_value() -> None:
    rest = RestStore(answers={"/secrets/db": {"value": VALUE}}, throttle=2)
    with serving(rest) as url:
        store = KeyVaultSecrets(token=lambda: "token-1", base_url=url)
        assert store.read("https://acme.vault.azure.net/secrets/db") == VALUE
        rest.deny = True
        with pytest.raises(SecretError) as err:
            resolve({"DB": "https://acme.vault.azure.net/secrets/db"}, {"azure": store})
    assert str(err.value) == "DB: https://acme.vault.azure.net/secrets/db could not be read: HTTP 403"
    assert len(rest.seen) == 4


# -- Google Secret Manager, over its REST API --------------------------------------------------


def test_secret_manager_reads_the_latest_version_and_decodes_its_payload() -> None:
    data = base64.b64encode(b"pw").decode()
    payload = {"name": "projects/acme/secrets/db/versions/3", "payload": {"data": data}}
    rest = RestStore(answers={"/v1/projects/acme/secrets/db/versions/latest:access": payload})
    with serving(rest) as url:
        store = SecretManagerSecrets(token=lambda: "token-1", endpoint=f"{url}/v1")
        assert resolve({"DB": "projects/acme/secrets/db"}, {"gcp": store}) == {"DB": "pw"}


def test_secret_manager_reads_a_named_version_and_rejects_binary_data() -> None:
    binary = {"payload": {"data": base64.b64encode(b"\xff\xfe").decode()}}
    rest = RestStore(answers={"/v1/projects/acme/secrets/db/versions/2:access": binary})
    with serving(rest) as url:
        store = SecretManagerSecrets(token=lambda: "token-1", endpoint=f"{url}/v1")
        with pytest.raises(SecretError, match="not UTF-8 text"):
            store.read("projects/acme/secrets/db/versions/2")


# -- the agent at start ------------------------------------------------------------------------


def _secret_agent_env(tmp_path: Path, moto_server: MotoServer, reference: str) -> dict[str, str]:
    from agentfleet.agent import contract
    from tests.runtime.harness import agent_env

    return agent_env(
        tmp_path / "queue.db",
        extra={
            contract.HANDLER: "tests.runtime.handlers:secret_reading_handler",
            contract.SECRETS: json.dumps({"API_KEY": reference}),
            contract.REGION: moto_server.region,
            "SECRET_TEST_OUT": tmp_path / "seen.txt",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_server.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        },
    )


@pytest.mark.peer
def test_a_real_agent_reads_its_secrets_at_start_into_the_handlers_environment_and_never_logs_them(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    from agentfleet.agent.backends.sqlite import SqliteBackend
    from tests.runtime.harness import start_agent, terminate_when_started, wait_until

    secrets: Any = moto_server.client("secretsmanager")
    arn = secrets.create_secret(Name=f"agent-start-{tmp_path.name}", SecretString=VALUE)["ARN"]
    queue = SqliteBackend(tmp_path / "queue.db")
    queue.send(b"job")
    log = tmp_path / "agent.log"
    env = _secret_agent_env(tmp_path, moto_server, arn)
    env["AGENTFLEET_SECRETS_REFRESH"] = "1"
    agent = start_agent(env, log)
    seen = tmp_path / "seen.txt"
    rotated = "r0tated-value-never-shown"
    try:
        wait_until(lambda: seen.exists() and seen.read_text() != "", 60, "the handler to run")
        assert seen.read_text() == VALUE + "\n"
        # A rotation reaches the running agent at its next re-read.
        secrets.put_secret_value(SecretId=arn, SecretString=rotated)
        wait_until(lambda: '"secrets rotated"' in log.read_text(), 60, "the agent to re-read the secret")
        queue.send(b"after the rotation")
        wait_until(lambda: rotated in seen.read_text(), 60, "the handler to see the rotated value")
    finally:
        terminate_when_started(agent, log)
    assert agent.wait(timeout=30) == 0, log.read_text()[-2000:]
    assert seen.read_text() == f"{VALUE}\n{rotated}\n"
    text = log.read_text()
    assert VALUE not in text and rotated not in text, "a secret's value reached the agent's log"
    (line,) = [json.loads(x) for x in text.splitlines() if '"secrets read"' in x]
    assert line["names"] == ["API_KEY"]


@pytest.mark.peer
def test_an_agent_whose_secret_cannot_be_read_exits_2_with_one_line_naming_it(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    from tests.runtime.harness import start_agent

    missing = f"arn:aws:secretsmanager:{moto_server.region}:123456789012:secret:absent-AbCdEf"
    log = tmp_path / "agent.log"
    agent = start_agent(_secret_agent_env(tmp_path, moto_server, missing), log)
    assert agent.wait(timeout=60) == 2
    lines = log.read_text().strip().splitlines()
    assert lines[-1] == (
        f"agentfleet: cannot read the secrets in AGENTFLEET_SECRETS: API_KEY: {missing} could not be read: "
        "ResourceNotFoundException"
    )
    assert "Traceback" not in log.read_text()
    assert not (tmp_path / "seen.txt").exists(), "the handler never ran without its secret"


def test_a_failed_re_read_keeps_the_value_the_agent_has_and_logs_no_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from agentfleet.agent.secrets.refresh import SecretRefresher

    class Flaky:
        answers: list[str | Exception] = ["v2", SecretError("projects/p/secrets/k could not be read: 503")]

        def read(self, reference: str) -> str:
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer

    monkeypatch.setenv("API_KEY", "v1")
    refresher = SecretRefresher({"API_KEY": "projects/p/secrets/k"}, 300, {"gcp": Flaky()})
    assert refresher.refresh_once() == ["API_KEY"]
    assert refresher.refresh_once() == []
    import os

    assert os.environ["API_KEY"] == "v2"
    out = capsys.readouterr()
    assert "v2" not in out.out + out.err and "could not be read: 503" in out.out + out.err


def test_re_reads_reuse_the_store_the_agent_opened_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each re-read (every 300 s, for every agent) must not build a new SDK client per secret."""
    import agentfleet.agent.secrets.gcp as gcp_reader
    from agentfleet.agent.secrets.refresh import SecretRefresher

    built: list[object] = []

    class Counting:
        def __init__(self) -> None:
            built.append(self)

        def read(self, reference: str) -> str:
            return "v"

    monkeypatch.setattr(gcp_reader, "SecretManagerSecrets", Counting)
    opened: dict[str, Any] = {}
    references = {"A": "projects/p/secrets/a", "B": "projects/p/secrets/b"}
    assert resolve(references, opened) == {"A": "v", "B": "v"}
    refresher = SecretRefresher(references, 300, opened)
    refresher.refresh_once()
    refresher.refresh_once()
    assert len(built) == 1
