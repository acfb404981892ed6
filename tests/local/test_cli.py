"""`agentfleet local send / status / up`, through the real typer app."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from agentfleet.local.cli import SAMPLE_HANDLER, local_app, send_hint
from agentfleet.local.stack import LocalPaths
from agentfleet.local.store import open_queue
from tests.local.helpers import TINY_FLEET, tiny_config

runner = CliRunner()


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "Pulumi.tiny.yaml"
    path.write_text(yaml.safe_dump({"config": {"agentfleet:cloud": "aws", "agentfleet:fleet": TINY_FLEET}}))
    return path


def test_send_file_enqueues_one_message_per_jsonl_line(tmp_path: Path, config_file: Path) -> None:
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"task": "a", "n": 1}\n\n{"task": "b"}\n[1, 2]\n')
    state_dir = tmp_path / "fleet"
    result = runner.invoke(
        local_app, ["send", "--file", str(tasks), "--config", str(config_file), "--state-dir", str(state_dir)]
    )
    assert result.exit_code == 0, result.output
    queue = open_queue(tiny_config(), LocalPaths(state_dir))
    try:
        assert queue.stats().waiting == 3
        bodies = [json.loads(m.body) for m in queue.receive(10, 0)]
    finally:
        queue.close()
    assert bodies == [{"task": "a", "n": 1}, {"task": "b"}, [1, 2]]


def test_send_file_names_the_line_that_is_not_json(tmp_path: Path, config_file: Path) -> None:
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"ok": 1}\n{not json}\n')
    result = runner.invoke(
        local_app,
        ["send", "--file", str(tasks), "--config", str(config_file), "--state-dir", str(tmp_path / "fleet")],
    )
    assert result.exit_code == 2
    assert "tasks.jsonl:2 is not valid JSON" in result.output


def test_send_n_writes_vendor_files_and_enqueues_tasks_for_the_sample_agent(
    tmp_path: Path, config_file: Path
) -> None:
    state_dir = tmp_path / "fleet"
    for _ in range(2):
        result = runner.invoke(
            local_app, ["send", "5", "--config", str(config_file), "--state-dir", str(state_dir)]
        )
        assert result.exit_code == 0, result.output
    files = sorted(p.name for p in (state_dir / "bucket" / "vendors").rglob("*.csv"))
    assert len(files) == 10  # the second send numbers its tasks after the first's
    status = runner.invoke(
        local_app, ["status", "--json", "--config", str(config_file), "--state-dir", str(state_dir)]
    )
    assert status.exit_code == 0, status.output
    data = json.loads(status.output)
    assert (data["waiting"], data["in_flight"], data["dead_lettered"], data["running"]) == (10, 0, 0, False)


def test_status_without_a_fleet_says_how_to_start_one(tmp_path: Path) -> None:
    result = runner.invoke(local_app, ["status", "--state-dir", str(tmp_path / "nothing")])
    assert result.exit_code == 1
    assert "agentfleet local up" in result.output


def test_a_bad_config_exits_2_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump({"config": {"agentfleet:fleet": {**TINY_FLEET, "scaling": {"max_agents": 0}}}})
    )
    result = runner.invoke(local_app, ["send", "1", "--config", str(bad), "--state-dir", str(tmp_path / "f")])
    assert result.exit_code == 2
    assert "fleet.scaling.max_agents=0 must be >= 1" in result.output


@pytest.mark.slow
def test_up_runs_agents_for_sent_work_shows_them_in_status_and_drains_on_ctrl_c(
    tmp_path: Path, config_file: Path
) -> None:
    state_dir = tmp_path / "fleet"
    env = dict(os.environ, COLUMNS="120")
    up = subprocess.Popen(
        [sys.executable, "-c", "from agentfleet.local.cli import local_app; local_app()", "up",
         "--config", str(config_file), "--state-dir", str(state_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not (state_dir / "fleet.json").exists():
            assert up.poll() is None, up.stdout.read().decode() if up.stdout else ""
            assert time.monotonic() < deadline, "local up never wrote its status"
            time.sleep(0.1)
        # No --config: send and status use the config of the `local up` running on that directory.
        sent = runner.invoke(local_app, ["send", "30", "--state-dir", str(state_dir)])
        assert sent.exit_code == 0, sent.output
        agent_pids: set[int] = set()
        while True:
            status = runner.invoke(local_app, ["status", "--json", "--state-dir", str(state_dir)])
            data = json.loads(status.output)
            assert data["running"] is True
            agent_pids |= {a["pid"] for a in data["agents"]}
            if data["waiting"] == data["in_flight"] == 0 and agent_pids:
                break
            assert time.monotonic() < deadline + 20, data
            time.sleep(0.2)
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=30)
    finally:
        if up.poll() is None:
            up.kill()
    assert up.returncode == 0, output.decode()
    assert not (state_dir / "fleet.json").exists()
    alive = []
    for pid in agent_pids:
        try:
            os.kill(pid, 0)
            alive.append(pid)
        except ProcessLookupError:
            pass
    assert alive == [], "agents left running after Ctrl-C"


@pytest.mark.slow
def test_demo_prints_the_report_writes_the_chart_and_exits_0(tmp_path: Path, config_file: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(
        local_app, ["demo", "--config", str(config_file), "--tasks", "60", "--period", "1", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "zero lost, zero duplicate effects" in result.output
    assert (out / "demo-chart.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "demo-report.json").read_text())["done"] == 60


def test_demo_exits_1_naming_what_was_lost_or_doubled(
    tmp_path: Path, config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentfleet.local import demo
    from agentfleet.local.report import DemoReport

    bad = DemoReport(
        tasks=10, done=8, lost=1, duplicate_effects=1, inconsistent_records=0, dead_lettered=1, max_agents=3,
        concurrency=2, work_seconds=0.1, warmup_seconds=1, drain_seconds=2.0, window_seconds=5.0,
        agent_seconds=6.0, peak_agents=3, agents_started=3, agents_killed_by_chaos=0, chaos=False,
    )  # fmt: skip
    monkeypatch.setattr(
        demo,
        "run_demo",
        lambda opts, console: demo.DemoResult(bad, [], tmp_path / "c.png", tmp_path / "r.json"),
    )
    result = runner.invoke(local_app, ["demo", "--config", str(config_file), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "FAILED: 1 tasks lost (must be 0)" in result.output
    assert "FAILED: 1 duplicate effects (must be 0)" in result.output


def test_local_up_suggests_generated_tasks_only_to_the_sample_agent(tmp_path: Path) -> None:
    assert send_hint(SAMPLE_HANDLER, tmp_path) == f"agentfleet local send 100 --state-dir {tmp_path}"
    own = send_hint("mymod:handle", tmp_path)
    assert own == f"agentfleet local send --file tasks.jsonl --state-dir {tmp_path}"
