"""Busy agents are protected from scale-in on the local fleet, and the report's
`interrupted by scale-in` row can fail.

The process tests hold every task in a gate (tests/local/gated_agent.py) that the test opens, so
"every agent is busy when the scale-in comes" is a state the test waits for, not a timing hope:
with protection no busy agent is drained and the surplus goes once agents are idle; without it
the scale-in drains busy agents, their drains time out, and each cut-short handler is counted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentfleet.local import sample_agent
from agentfleet.local.report import DemoReport
from agentfleet.local.stack import LocalPaths
from agentfleet.local.store import open_local_bucket, open_local_state, open_queue
from agentfleet.local.supervisor import AgentState, Supervisor, scrape, unfinished_at_drain_timeout
from tests.local.gated_agent import GATE_ENV
from tests.local.helpers import tiny_config

GATED_HANDLER = "tests.local.gated_agent:handle"
AGENTS = 3
# concurrency 1: each agent runs one task and prefetches one, so 2 x AGENTS tasks fill the fleet
# and every agent is running one. A long lease keeps a cut-short task from coming back mid-test.
CONFIG = tiny_config(
    agent={"concurrency": 1, "drain_timeout_seconds": 1, "env": {}},
    queue={"visibility_timeout_seconds": 60},
    scaling={"max_agents": AGENTS, "warmup_seconds": 0},
)


def wait_for(what: str, predicate: Callable[[], bool], supervisor: Supervisor, timeout: float = 90.0) -> None:
    """Poll the fleet until `predicate()`; the timeout only turns a hang into a failure."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        supervisor.poll()
        time.sleep(0.05)


@contextmanager
def busy_fleet(paths: LocalPaths, *, protection: bool) -> Iterator[tuple[Supervisor, Path]]:
    """AGENTS ready agents, each running one gated task and holding one more; yields (supervisor, gate)."""
    gate = paths.root / "gate"
    supervisor = Supervisor(
        CONFIG,
        paths,
        handler=GATED_HANDLER,
        extra_env={GATE_ENV: str(gate), sample_agent.WORK_SECONDS_ENV: "0"},
        protection=protection,
    )
    queue = open_queue(CONFIG, paths)
    bucket = open_local_bucket(CONFIG, paths)
    try:
        supervisor.scale_to(AGENTS)
        wait_for("agents ready", lambda: supervisor.counts().ready == AGENTS, supervisor)
        queue.send_many(t.body() for t in sample_agent.make_tasks(bucket, 2 * AGENTS))

        def all_busy() -> bool:
            stats = queue.stats()
            read = [scrape(a.port, 2.0) for a in supervisor.agents.values()]
            return (stats.waiting, stats.in_flight) == (0, 2 * AGENTS) and all(
                m is not None and m.in_flight == 1 and m.protected == protection for m in read
            )

        wait_for("every agent running a task", all_busy, supervisor)
        yield supervisor, gate
    finally:
        gate.touch()
        supervisor.stop_all(timeout=30)
        queue.close()
        bucket.close()


@pytest.mark.slow
def test_without_protection_a_scale_in_drains_busy_agents_and_counts_the_interruptions(
    paths: LocalPaths,
) -> None:
    with busy_fleet(paths, protection=False) as (supervisor, _gate):
        supervisor.scale_to(1)
        drained = [a for a in supervisor.agents.values() if a.state is AgentState.DRAINING]
        assert len(drained) == AGENTS - 1
        wait_for("the drained agents to exit", lambda: len(supervisor.exits) == AGENTS - 1, supervisor)
        # Each drained agent was running one task longer than its 1 s drain timeout: exit 1, and the
        # agent's own "drain timed out" line says one handler was cut short.
        assert {(e.returncode, e.interrupted) for e in supervisor.exits} == {(1, 1)}
        assert supervisor.interrupted_by_scale_in == AGENTS - 1


@pytest.mark.slow
def test_with_protection_busy_agents_stay_until_idle_and_nothing_is_interrupted(paths: LocalPaths) -> None:
    with busy_fleet(paths, protection=True) as (supervisor, gate):
        for _ in range(5):  # the autoscaler asks every tick: every agent is busy, so nobody goes
            supervisor.poll()
            supervisor.scale_to(1)
            assert supervisor.counts().draining == 0
        assert (supervisor.desired_capacity, supervisor.counts().active) == (1, AGENTS)
        assert supervisor.counts().protected == AGENTS  # what `local status` and the live log show
        gate.touch()  # the work ends; agents go idle one by one and the surplus drains
        wait_for(
            "the surplus to drain as agents go idle",
            lambda: (supervisor.scale_to(1), len(supervisor.exits) == AGENTS - 1)[1],
            supervisor,
        )
        assert {(e.reason, e.returncode, e.interrupted) for e in supervisor.exits} == {("drained", 0, 0)}
        assert supervisor.interrupted_by_scale_in == 0
        assert supervisor.counts().active == 1
    state = open_local_state(CONFIG, paths)
    try:
        record_ids = {
            task for v in range(100) if (item := state.get(sample_agent.record_key(f"v{v:03d}"))) is not None
            for task in item.value["applied"]
        }  # fmt: skip
    finally:
        state.close()
    assert len(record_ids) == 2 * AGENTS  # every task applied once, on the agents that were kept


def test_the_interrupted_count_is_the_agents_own_drain_report(tmp_path: Path) -> None:
    log = tmp_path / "agent-1.log"
    log.write_text(
        '{"event": "draining", "in_flight": 2}\n'
        "not json\n"
        '{"event": "drain timed out", "given_back": 1, "unfinished": 2, "seconds": 1.0}\n'
    )
    assert unfinished_at_drain_timeout(log) == 2
    log.write_text('{"event": "drained", "given_back": 0, "unfinished": 0}\n')
    assert unfinished_at_drain_timeout(log) is None
    assert unfinished_at_drain_timeout(tmp_path / "missing.log") is None


def report(**changes: object) -> DemoReport:
    base: dict[str, object] = dict(
        tasks=16, done=16, lost=0, duplicate_effects=0, inconsistent_records=0, dead_lettered=0,
        max_agents=4, concurrency=2, work_seconds=8.0, warmup_seconds=1, drain_seconds=18.0,
        window_seconds=24.0, agent_seconds=80.0, peak_agents=4, agents_started=4,
        agents_killed_by_chaos=0, chaos=False, scenario="long-tasks",
    )  # fmt: skip
    base.update(changes)
    return DemoReport(**base)  # type: ignore[arg-type]


def test_the_report_row_and_json_field_fail_on_any_interruption() -> None:
    from rich.console import Console

    bad = report(interrupted_by_scale_in=3, protection=False)
    assert bad.violations() == ["3 tasks interrupted by scale-in (must be 0)"]
    assert json.loads(bad.to_json())["interrupted_by_scale_in"] == 3
    console = Console(width=120, record=True)
    console.print(bad.table())
    text = console.export_text()
    assert "interrupted by scale-in" in text and "--no-protection" in text
    assert report(interrupted_by_scale_in=0).violations() == []


def test_demo_exits_1_naming_the_interruptions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agentfleet.local import demo
    from agentfleet.local.cli import local_app

    seen: list[demo.DemoOptions] = []

    def fake_run(opts: demo.DemoOptions, console: object) -> demo.DemoResult:
        seen.append(opts)
        bad = report(interrupted_by_scale_in=4, protection=opts.protection)
        return demo.DemoResult(bad, [], tmp_path / "c.png", tmp_path / "r.json")

    monkeypatch.setattr(demo, "run_demo", fake_run)
    result = CliRunner().invoke(
        local_app, ["demo", "--scenario", "long-tasks", "--no-protection", "--out", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "FAILED: 4 tasks interrupted by scale-in (must be 0)" in result.output
    (opts,) = seen
    assert (opts.scenario, opts.protection, opts.tasks) == ("long-tasks", False, 16)
    assert opts.work_seconds == 4 * opts.config.agent.drain_timeout_seconds


def test_an_unknown_scenario_is_a_one_line_error(tmp_path: Path) -> None:
    from agentfleet.local.cli import local_app

    result = CliRunner().invoke(local_app, ["demo", "--scenario", "steady", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "--scenario='steady' must be one of burst, long-tasks" in result.output


@pytest.mark.slow
def test_the_long_tasks_demo_scales_in_while_agents_are_busy_and_interrupts_nothing(tmp_path: Path) -> None:
    from agentfleet.local.demo import demo_config, run_demo, scenario_options

    opts = scenario_options("long-tasks", demo_config(), tmp_path)
    opts.live, opts.tick_seconds = False, 0.25
    result = run_demo(opts)
    r = result.report
    assert (r.tasks, r.done, r.lost, r.duplicate_effects) == (16, 16, 0, 0)
    assert r.interrupted_by_scale_in == 0
    assert json.loads(result.report_json.read_text())["interrupted_by_scale_in"] == 0
    # The scenario did what it is for: the autoscaler asked for fewer agents while more were
    # working than it asked for, and they were kept until idle.
    assert any(s.desired < s.ready and s.in_flight > s.desired * 2 for s in result.samples)
    assert {(e.reason, e.returncode) for e in result.exits} == {("drained", 0)}
