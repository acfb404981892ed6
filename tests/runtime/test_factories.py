"""Wiring from the environment contract to implementations: each factory picks the module named
by the backend, imports no other cloud's SDK, and the local pieces (directory bucket, no-op
watcher, example handler) do what the docs say."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from agentfleet.agent import contract
from agentfleet.agent.backends import open_backend
from agentfleet.agent.backends.base import Message
from agentfleet.agent.backends.sqlite import SqliteBackend
from agentfleet.agent.bucket import BUCKET_FOR_BACKEND, open_bucket
from agentfleet.agent.bucket.base import BucketError, ObjectNotFound
from agentfleet.agent.bucket.local import LocalBucket
from agentfleet.agent.context import Context, MissingResource, Resources
from agentfleet.agent.lifecycle import WATCHER_MODULES, NoWatcher, open_watcher
from agentfleet.agent.logging import get_logger
from agentfleet.agent.settings import Settings
from agentfleet.agent.state import STORE_FOR_BACKEND, open_state
from agentfleet.agent.state.sqlite import SqliteStateStore
from tests.runtime.harness import ROOT, make_worker, running, settled, wait_until


def sqlite_settings(tmp_path: Path, **variables: str) -> Settings:
    env = {
        contract.BACKEND: "sqlite",
        contract.QUEUE: str(tmp_path / "queue.db"),
        contract.VISIBILITY_TIMEOUT: "7",
        contract.MAX_RECEIVE_COUNT: "4",
    }
    env.update(variables)
    return Settings.from_env(env)


def test_sqlite_backend_gets_the_lease_and_receive_count_from_the_environment(tmp_path: Path) -> None:
    backend = open_backend(sqlite_settings(tmp_path))
    assert isinstance(backend, SqliteBackend)
    assert (backend.path, backend.visibility_timeout, backend.max_receive_count) == (
        str(tmp_path / "queue.db"),
        7,
        4,
    )


def test_sqlite_state_and_bucket_follow_their_variables(tmp_path: Path) -> None:
    settings = sqlite_settings(
        tmp_path, **{contract.STATE: str(tmp_path / "state.db"), contract.BUCKET: str(tmp_path / "objects")}
    )
    state, bucket = open_state(settings), open_bucket(settings)
    assert isinstance(state, SqliteStateStore) and state.path == str(tmp_path / "state.db")
    assert isinstance(bucket, LocalBucket) and bucket.root == (tmp_path / "objects").resolve()


def test_a_fleet_without_state_or_bucket_gets_errors_naming_the_variable(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)
    assert open_state(settings) is None and open_bucket(settings) is None
    ctx = Context(Message("1", b"", 1), Resources(), get_logger())
    with pytest.raises(MissingResource, match=contract.STATE):
        _ = ctx.state
    with pytest.raises(MissingResource, match=contract.BUCKET):
        _ = ctx.bucket
    with pytest.raises(MissingResource, match=contract.CACHE):
        _ = ctx.cache


@pytest.mark.parametrize("backend", contract.BACKENDS)
def test_every_backend_name_maps_to_modules_with_a_from_settings(backend: str) -> None:
    for package, module in (
        ("agentfleet.agent.backends", backend),
        ("agentfleet.agent.state", STORE_FOR_BACKEND[backend]),
        ("agentfleet.agent.bucket", BUCKET_FOR_BACKEND[backend]),
    ):
        loaded = importlib.import_module(f"{package}.{module}")
        assert callable(getattr(loaded, "from_settings", None)), f"{package}.{module} lacks from_settings"


@pytest.mark.parametrize("lifecycle", [name for name in contract.LIFECYCLES if name != "none"])
def test_every_lifecycle_maps_to_a_watcher_module(lifecycle: str) -> None:
    loaded = importlib.import_module(f"agentfleet.agent.lifecycle.{WATCHER_MODULES[lifecycle]}")
    assert callable(getattr(loaded, "from_settings", None))


def test_no_lifecycle_means_a_watcher_that_does_nothing(tmp_path: Path) -> None:
    assert isinstance(open_watcher(sqlite_settings(tmp_path)), NoWatcher)


def test_a_sqlite_agent_imports_no_cloud_sdk(tmp_path: Path) -> None:
    probe = f"""
import json, sys
from agentfleet.agent.cli import build_agent
from agentfleet.agent.settings import Settings
settings = Settings.from_env({{
    "AGENTFLEET_BACKEND": "sqlite", "AGENTFLEET_QUEUE": {str(tmp_path / "q.db")!r},
    "AGENTFLEET_STATE": {str(tmp_path / "s.db")!r}, "AGENTFLEET_BUCKET": {str(tmp_path / "b")!r},
    "AGENTFLEET_HANDLER": "agentfleet.agent.examples.echo:handle", "AGENTFLEET_PORT": "0",
}})
build_agent(settings)
print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))
"""
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert not loaded & {"boto3", "botocore", "azure", "google", "pulumi"}


def test_local_bucket_puts_gets_and_lists(tmp_path: Path) -> None:
    bucket = LocalBucket(tmp_path / "objects")
    bucket.put("results/a.json", b"1")
    bucket.put("results/b.json", b"2")
    bucket.put("inputs/c.txt", b"3")
    bucket.put("results/a.json", b"11")
    assert bucket.get("results/a.json") == b"11"
    assert bucket.list("results/") == ["results/a.json", "results/b.json"]
    assert bucket.list() == ["inputs/c.txt", "results/a.json", "results/b.json"]
    with pytest.raises(ObjectNotFound):
        bucket.get("results/missing.json")
    with pytest.raises(BucketError):
        bucket.put("../escape", b"x")


def test_example_handler_records_each_job_once_and_rejects_garbage(tmp_path: Path) -> None:
    from agentfleet.agent.examples.echo import handle

    queue = SqliteBackend(tmp_path / "queue.db", visibility_timeout=5)
    for body in ({"id": 1, "text": "hi"}, {"id": 1, "text": "hi"}, {"id": 2, "text": "yo"}):
        queue.send(json.dumps(body).encode())
    queue.send(b"not json")
    run = make_worker(queue, handle, state_path=tmp_path / "state.db")
    with running(run):
        wait_until(lambda: settled(queue), 10, "all messages")
    state = SqliteStateStore(tmp_path / "state.db")
    first, second = state.get("echo-result:1"), state.get("echo-result:2")
    assert first is not None and first.value == {"text": "HI"} and first.version == 1
    assert second is not None and second.value == {"text": "YO"}
    (dead,) = queue.dead_letters()
    assert dead.body == b"not json" and dead.reason.startswith("PermanentError: not an echo job")


def test_agent_command_runs_in_an_image_without_the_infra_extra() -> None:
    probe = (
        "import sys\n"
        "for sdk in ('pulumi', 'pulumi_aws', 'pulumi_azure_native', 'pulumi_gcp', 'pulumi_kubernetes',\n"
        "            'matplotlib', 'azure', 'google'):\n"
        "    sys.modules[sdk] = None  # not installed in the agent image\n"
        "from agentfleet.cli import app\n"
        "app(['agent', 'run', '--help'])\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-1000:]
