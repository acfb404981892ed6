"""The agent's settings and start-up: every bad variable is a start-up error naming it, all
problems at once, and a handler that cannot be imported stops the agent before it touches the
queue."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from agentfleet.agent import contract
from agentfleet.agent.backends.sqlite import SqliteBackend
from agentfleet.agent.cli import receive_wait_seconds, run_agent
from agentfleet.agent.handler import load_handler
from agentfleet.agent.settings import Settings, SettingsError


def env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    base = {contract.BACKEND: "sqlite", contract.QUEUE: str(tmp_path / "q.db"), contract.PORT: "0"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v != "<unset>"}


@pytest.mark.parametrize(
    "overrides,variable",
    [
        ({contract.QUEUE: "<unset>"}, contract.QUEUE),
        ({contract.BACKEND: "kafka"}, contract.BACKEND),
        ({contract.BACKEND: "<unset>"}, contract.BACKEND),
        ({contract.CONCURRENCY: "many"}, contract.CONCURRENCY),
        ({contract.CONCURRENCY: "0"}, contract.CONCURRENCY),
        ({contract.VISIBILITY_TIMEOUT: "1.5"}, contract.VISIBILITY_TIMEOUT),
        ({contract.LIFECYCLE: "gcp-preemption"}, contract.LIFECYCLE),
        ({contract.LIFECYCLE: "aws-asg"}, contract.LIFECYCLE_HOOK),
    ],
)
def test_bad_environment_is_a_startup_error_naming_the_variable(
    tmp_path: Path, overrides: dict[str, str], variable: str
) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env(env(tmp_path, **overrides))
    assert variable in str(error.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env({contract.BACKEND: "kafka", contract.PORT: "http"})
    assert len(error.value.problems) == 3  # backend, queue, port


def test_settings_read_the_contract(tmp_path: Path) -> None:
    variables = {contract.CONCURRENCY: "4", contract.MAX_RECEIVE_COUNT: "7", contract.HANDLER: "a.b:c"}
    settings = Settings.from_env(env(tmp_path, **variables), handler="x.y:z")
    assert (settings.concurrency, settings.max_receive_count, settings.handler) == (4, 7, "x.y:z")


@pytest.mark.parametrize(
    "handler", ["agentfleet_nowhere.mod:handle", "agentfleet.agent.examples.echo:nope", "no-colon"]
)
def test_unimportable_handler_is_a_startup_error_naming_agentfleet_handler(
    tmp_path: Path, handler: str, capsys: Any
) -> None:
    queue = SqliteBackend(tmp_path / "q.db")
    queue.send(b"untouched")
    code = run_agent(env(tmp_path, **{contract.HANDLER: handler}))
    assert code == 2
    err = capsys.readouterr().err
    assert contract.HANDLER in err and handler in err
    assert queue.stats().waiting == 1, "an agent that cannot start must not touch the queue"


def test_agent_run_imports_a_handler_module_from_the_folder_it_was_started_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `agentfleet agent run --handler mymod:handle` next to mymod.py once failed: the console
    # script, unlike `python -m`, does not put the current folder on sys.path.
    (tmp_path / "agentfleet_cwd_handler.py").write_text("def handle(message, ctx):\n    return 'ok'\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "agentfleet_cwd_handler", raising=False)
    handler = load_handler("agentfleet_cwd_handler:handle")
    assert handler(None, None) == "ok"


@pytest.mark.parametrize(("drain", "wait"), [(120, 20.0), (60, 15.0), (8, 2.0), (1, 0.5)])
def test_a_receive_long_polls_up_to_sqs_s_20_s_but_within_a_quarter_of_the_drain(
    drain: int, wait: float
) -> None:
    assert receive_wait_seconds(drain) == wait
