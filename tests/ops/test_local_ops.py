"""The operator commands on the local fleet's SQLite queue, through the real `agentfleet` app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from agentfleet.agent.backends.admin import REDRIVE_ID_ATTRIBUTE
from agentfleet.agent.backends.admin_sqlite import SqliteAdmin
from agentfleet.agent.backends.sqlite import SqliteBackend
from agentfleet.local.cli import local_app
from agentfleet.ops.redrive import Journal, Selection, redrive
from tests.local.helpers import TINY_FLEET
from tests.ops.helpers import Interrupted, StopAfter, invoke, runner, write_outputs


def dead_letter(backend: SqliteBackend, body: bytes, reason: str) -> None:
    backend.send(body, {"tenant": "acme"})
    (message,) = backend.receive(1, 0)
    backend.dead_letter(message, reason)


@pytest.fixture
def queue(tmp_path: Path) -> SqliteBackend:
    backend = SqliteBackend(tmp_path / "queue.db")
    for i in range(3):
        dead_letter(backend, f'{{"n": {i}}}'.encode(), "TimeoutError: vendor API")
    dead_letter(backend, b'{"n": 9}', "KeyError: customer")
    backend.send(b'{"live": 1}')
    return backend


@pytest.fixture
def outputs(tmp_path: Path, queue: SqliteBackend) -> str:
    return write_outputs(tmp_path / "outputs.json", {"cloud": "local", "queue": queue.path})


def test_status_counts_and_the_last_dead_letter_reasons(outputs: str) -> None:
    result = invoke("status", "--outputs", outputs, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["waiting"], data["in_flight"], data["dead_lettered"]) == (1, 0, 4)
    assert data["dead_letter_reasons"] == ["KeyError: customer", "TimeoutError: vendor API"]
    assert data["oldest_message_age_seconds"] is not None
    table = invoke("status", "--outputs", outputs)
    assert "dead-letter reason" in table.output and "KeyError: customer" in table.output


def test_local_status_is_the_same_status(tmp_path: Path, queue: SqliteBackend) -> None:
    """`agentfleet local status` and `agentfleet status` share one implementation: same keys, same numbers."""
    config = tmp_path / "Pulumi.tiny.yaml"
    config.write_text(yaml.safe_dump({"config": {"agentfleet:cloud": "aws", "agentfleet:fleet": TINY_FLEET}}))
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    (state_dir / "queue.db").write_bytes(Path(queue.path).read_bytes())
    local = runner.invoke(
        local_app, ["status", "--json", "--config", str(config), "--state-dir", str(state_dir)]
    )
    assert local.exit_code == 0, local.output
    outputs = write_outputs(tmp_path / "o.json", {"cloud": "local", "queue": str(state_dir / "queue.db")})
    shared = json.loads(invoke("status", "--outputs", outputs, "--json").output)
    local_data = json.loads(local.output)
    for key in ("waiting", "in_flight", "dead_lettered", "dead_letter_reasons"):
        assert local_data[key] == shared[key], key


def test_dlq_list_and_show(outputs: str) -> None:
    listed = json.loads(invoke("dlq", "list", "--outputs", outputs, "--json").output)
    assert [d["reason"] for d in listed] == ["TimeoutError: vendor API"] * 3 + ["KeyError: customer"]
    assert {d["delivery_count"] for d in listed} == {1}
    shown = invoke("dlq", "show", listed[3]["id"], "--outputs", outputs)
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert data["body"] == {"n": 9} and data["attributes"] == {"tenant": "acme"}
    missing = invoke("dlq", "show", "999", "--outputs", outputs)
    assert missing.exit_code == 1 and "no dead letter with id 999" in missing.output


def test_redrive_a_filtered_subset_keeps_the_rest(tmp_path: Path, outputs: str, queue: SqliteBackend) -> None:
    dry = invoke("dlq", "redrive", "--outputs", outputs, "--reason", "timeout", "--dry-run")
    assert dry.exit_code == 0 and "would redrive 3" in dry.output
    assert queue.stats().dead_lettered == 4  # a dry run moves nothing
    result = invoke(
        "dlq", "redrive", "--outputs", outputs, "--reason", "timeout", "--journal-dir", str(tmp_path / "j")
    )
    assert result.exit_code == 0, result.output
    assert "redrove 3" in result.output
    assert [d.reason for d in queue.dead_letters()] == ["KeyError: customer"]
    copies = queue.receive(10, 0)
    assert sorted(m.body for m in copies) == [b'{"live": 1}', b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']
    redriven = [m for m in copies if REDRIVE_ID_ATTRIBUTE in m.attributes]
    assert len(redriven) == 3 and all(m.attributes["tenant"] == "acme" for m in redriven)
    assert not list((tmp_path / "j").glob("*.jsonl")), "a finished redrive leaves no journal behind"


def test_purge_by_id(outputs: str, queue: SqliteBackend) -> None:
    (first, *_) = queue.dead_letters()
    result = invoke("dlq", "purge", "--outputs", outputs, "--id", first.id, "--yes")
    assert result.exit_code == 0 and "deleted 1" in result.output
    assert first.id not in {d.id for d in queue.dead_letters()} and len(queue.dead_letters()) == 3
    assert queue.stats().waiting == 1  # nothing went to the work queue


def test_send_from_a_file_and_from_stdin(tmp_path: Path, outputs: str, queue: SqliteBackend) -> None:
    lines = tmp_path / "tasks.jsonl"
    lines.write_text("".join(json.dumps({"task": i}) + "\n" for i in range(25)))
    result = invoke("send", "--outputs", outputs, str(lines), "--batch", "10")
    assert result.exit_code == 0 and "sent 25" in result.output, result.output
    piped = invoke("send", "--outputs", outputs, stdin='{"task": "x"}\n\n{"task": "y"}\n')
    assert piped.exit_code == 0 and "sent 2" in piped.output
    bad = invoke("send", "--outputs", outputs, stdin='{"task": 1}\nnot json\n')
    assert bad.exit_code == 2 and "stdin:2 is not valid JSON" in bad.output
    assert queue.stats().waiting == 1 + 25 + 2


def test_an_interrupted_redrive_rerun_loses_and_duplicates_nothing(
    tmp_path: Path, queue: SqliteBackend
) -> None:
    for i in range(20):
        dead_letter(queue, f"extra-{i}".encode(), "TimeoutError")
    before = sorted(d.body for d in queue.dead_letters())
    admin = SqliteAdmin(queue)
    admin.batch_size = 5
    with pytest.raises(Interrupted):
        redrive(StopAfter(admin, batches=2), Selection(), Journal.for_queue(tmp_path, "q"))  # type: ignore[arg-type]
    # Cut off after the third batch's copies were confirmed: those 5 are in both queues now.
    assert queue.stats().waiting == 1 + 15 and queue.stats().dead_lettered == 24 - 10
    rerun = redrive(SqliteAdmin(queue), Selection(), Journal.for_queue(tmp_path, "q"))
    assert (rerun.moved, rerun.resumed) == (9, 5)
    bodies = sorted(m.body for m in queue.receive(100, 0) if REDRIVE_ID_ATTRIBUTE in m.attributes)
    assert bodies == before, "every dead letter is in the work queue exactly once"
    assert queue.stats().dead_lettered == 0


def test_outputs_with_several_fleets_need_fleet(tmp_path: Path, queue: SqliteBackend) -> None:
    both = {"fleets": {"orders": {"cloud": "local", "queue": queue.path}, "mail": {"cloud": "gcp"}}}
    path = write_outputs(tmp_path / "o.json", both)
    unpicked = invoke("status", "--outputs", path)
    assert unpicked.exit_code == 2 and "2 fleets (mail, orders): pick one with --fleet" in unpicked.output
    picked = invoke("status", "--outputs", path, "--fleet", "orders", "--json")
    assert picked.exit_code == 0 and json.loads(picked.output)["fleet"] == "orders"
    wrong = invoke("status", "--outputs", path, "--fleet", "billing")
    assert wrong.exit_code == 2 and "--fleet billing: the outputs hold mail, orders" in wrong.output
    stdin = invoke("status", "--outputs", "-", "--fleet", "orders", "--json", stdin=json.dumps(both))
    assert stdin.exit_code == 0, stdin.output


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ({"cloud": "moon"}, "cloud='moon'; expected one of aws, azure, gcp, local"),
        ({"cloud": "aws", "queue": "q"}, "no queue_url, region, dead_letter_queue: the aws commands need"),
        ({"queue": "q"}, "no `cloud` and no `fleets`"),
    ],
)
def test_outputs_that_do_not_describe_a_fleet_say_what_is_missing(
    tmp_path: Path, outputs: dict[str, str], message: str
) -> None:
    result = invoke("status", "--outputs", write_outputs(tmp_path / "o.json", outputs))
    assert result.exit_code == 2
    assert message in result.output


def test_purge_dry_run_deletes_nothing(outputs: str, queue: SqliteBackend) -> None:
    result = invoke("dlq", "purge", "--outputs", outputs, "--reason", "keyerror", "--dry-run")
    assert result.exit_code == 0 and "would delete 1" in result.output
    assert queue.stats().dead_lettered == 4
    refused = invoke("dlq", "purge", "--outputs", outputs, stdin="n\n")
    assert refused.exit_code == 1 and queue.stats().dead_lettered == 4  # asked, and told no


def test_status_watch_refreshes_until_ctrl_c(outputs: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ticks: list[float] = []

    def sleep(seconds: float) -> None:
        ticks.append(seconds)
        if len(ticks) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr("agentfleet.ops.cli.time.sleep", sleep)
    result = invoke("status", "--outputs", outputs, "--watch", "--interval", "2")
    assert result.exit_code == 0, result.output
    assert ticks == [2.0, 2.0, 2.0]
    assert "dead-lettered" in result.output


def test_an_interrupted_command_says_how_to_finish(
    tmp_path: Path, outputs: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("agentfleet.ops.redrive.redrive", interrupted)
    result = invoke("dlq", "redrive", "--outputs", outputs, "--journal-dir", str(tmp_path / "j"))
    assert result.exit_code == 130 and "rerun the same command to finish" in result.output
