"""End to end, with real agent processes on a tiny fleet: one burst, observed from every side.

The burst runs once per module (a few seconds); each test checks one behaviour of that run:
scale-out under backlog, counting an agent only once /ready, scale-in only after the cooldown,
scale to zero, SIGTERM drains, and no task lost or applied twice (from the state store's audit).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from agentfleet.components.policy import ScalingPolicy
from agentfleet.local.demo import DemoOptions, DemoResult, run_demo
from tests.local.helpers import tiny_config

pytestmark = pytest.mark.slow

CONFIG = tiny_config(agent={"concurrency": 2}, scaling={"max_agents": 3, "target_backlog_per_agent": 5})
POLICY = ScalingPolicy.from_config(CONFIG)
TASKS = 90
WORK_SECONDS = 0.1


@pytest.fixture(scope="module")
def burst(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    out: Path = tmp_path_factory.mktemp("burst")
    opts = DemoOptions(
        config=CONFIG,
        out=out,
        tasks=TASKS,
        work_seconds=WORK_SECONDS,
        period_seconds=1.0,  # end as soon as the fleet is back at zero
        lead_in_seconds=0.5,
        overrun_seconds=60.0,
        tick_seconds=0.25,
        live=False,
    )
    return run_demo(opts)


def test_scales_out_to_max_agents_as_soon_as_the_backlog_appears(burst: DemoResult) -> None:
    first_backlog = next(s for s in burst.samples if s.backlog > 0)
    # 90 tasks / 5 per agent calls for 18 agents: capped at max_agents, started at once from zero.
    assert first_backlog.desired == POLICY.max_agents == 3
    assert max(s.agents for s in burst.samples) == 3
    assert sum(1 for _, kind, _ in burst.events if kind == "start") == 3


def test_an_agent_counts_as_ready_only_after_its_warm_up(burst: DemoResult) -> None:
    started = {agent: t for t, kind, agent in burst.events if kind == "start"}
    ready = {agent: t for t, kind, agent in burst.events if kind == "ready"}
    assert ready, "no agent ever answered /ready"
    for agent, t in ready.items():
        assert t - started[agent] >= POLICY.warmup_seconds
    assert any(s.warming > 0 and s.ready == 0 for s in burst.samples)


def test_scales_in_only_after_the_cooldown(burst: DemoResult) -> None:
    after_spike = [s for s in burst.samples if burst.spike_at is not None and s.t > burst.spike_at]
    # The first tick at which the backlog called for fewer agents than were running …
    low = next(s for s in after_spike if POLICY.desired_agents(s.waiting, s.in_flight) < s.warming + s.ready)
    # … and the first tick at which the autoscaler actually lowered its target.
    scaled_in = next(s for s in after_spike if s.desired < POLICY.max_agents)
    assert scaled_in.t - low.t >= POLICY.scale_in_cooldown_seconds - 1e-6
    assert any(kind == "drain" for _, kind, _ in burst.events)


def test_scales_to_zero_when_the_queue_is_empty(burst: DemoResult) -> None:
    last = burst.samples[-1]
    assert (last.desired, last.agents, last.backlog) == (0, 0, 0)


def test_scale_in_is_a_sigterm_drain_with_a_clean_exit(burst: DemoResult) -> None:
    assert burst.exits, "no agent exited"
    assert {(e.reason, e.returncode) for e in burst.exits} == {("drained", 0)}


def test_the_burst_is_drained_without_loss_or_duplicate_effects(burst: DemoResult) -> None:
    r = burst.report
    assert (r.tasks, r.done, r.lost, r.duplicate_effects, r.inconsistent_records) == (TASKS, TASKS, 0, 0, 0)
    assert r.dead_lettered == 0
    assert r.violations() == []


def test_the_report_measures_drain_against_the_ideal_and_writes_a_chart(burst: DemoResult) -> None:
    r = burst.report
    assert r.ideal_drain_seconds == pytest.approx(TASKS * WORK_SECONDS / (3 * 2) + 1)
    assert math.isfinite(r.drain_seconds) and r.drain_seconds > 0
    assert 0 < r.agent_seconds_ratio < 1
    assert burst.chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert '"lost": 0' in burst.report_json.read_text()
