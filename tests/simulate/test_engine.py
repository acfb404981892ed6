"""The simulated fleet: at-least-once delivery, retries, drain, protection, and the registry."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from agentfleet.agent.protection.base import DEFAULT_IDLE_GRACE_SECONDS
from agentfleet.agent.protection.local import LocalProtection
from agentfleet.cli import app
from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.problems import ConfigError
from agentfleet.components.simulation import AgentLifecycle, FleetView, LifecycleBoot
from agentfleet.local.scaling import LocalAutoscaler
from agentfleet.providers import TARGETS
from agentfleet.simulate import metrics, sweep, targets
from agentfleet.simulate.engine import simulate
from agentfleet.simulate.scenarios import Durations, Scenario, scenario
from tests.simulate.conftest import fleet

LIFE = AgentLifecycle(
    boot_median_seconds=5.0, boot_sigma=0.0, warmup_seconds=0.0, exit_seconds=0.0,
    drain_timeout_seconds=10.0, protects_busy_agents=True, lease_seconds=30.0,
)  # fmt: skip


class Script(LifecycleBoot):
    """Capacity by time, from a list of (from t, capacity)."""

    def __init__(self, plan: list[tuple[float, int]], lifecycle: AgentLifecycle = LIFE) -> None:
        self.plan = plan
        self.lifecycle = lifecycle

    def step(self, view: FleetView) -> int:
        return [c for t, c in self.plan if view.t >= t][-1]


def burst(n: int, seconds: int = 600, at: int = 0, median: float = 20.0, sigma: float = 0.0) -> Scenario:
    arrivals = np.zeros(seconds, np.int64)
    arrivals[at] = n
    return Scenario("test", arrivals, 1.0, Durations(median, sigma), burst=(at, at), tail_seconds=3600)


def test_every_message_is_done_once_or_dead_lettered_with_failures() -> None:
    config = fleet(min_agents=0, max_agents=5)
    run = simulate(config, Script([(0, 5), (400, 0)]), replace(burst(300), failure_rate=0.3))
    assert run.completed + run.dead_lettered == 300
    assert run.dead_lettered > 0  # 0.3 ** 5 of 300 is about 1; seed 1 gives some


def test_protected_busy_agents_are_not_interrupted_by_scale_in() -> None:
    config = fleet(min_agents=0, max_agents=10)
    plan = [(0, 10), (60, 2)]
    protected = simulate(config, Script(plan), burst(40, median=100.0))
    assert protected.interrupted_agents == 0 and protected.interrupted_messages == 0
    bare = simulate(config, Script(plan, replace(LIFE, protects_busy_agents=False)), burst(40, median=100.0))
    assert bare.interrupted_agents > 0
    # Killed after the 10 s drain timeout: their messages come back once the lease expires.
    assert bare.interrupted_messages > 0 and bare.completed == 40


def test_an_unprotected_scale_in_takes_idle_agents_before_busy_ones() -> None:
    """Pod-deletion-cost (GKE) ranks idle pods first: 2 busy of 6, down to 2, interrupts none;
    down to 1 (fewer than are busy) interrupts one."""
    config = fleet(min_agents=0, max_agents=10)
    unprotected = replace(LIFE, protects_busy_agents=False)
    ranked = simulate(config, Script([(0, 6), (60, 2)], unprotected), burst(2, median=200.0))
    assert ranked.interrupted_agents == 0
    fewer = simulate(config, Script([(0, 6), (60, 1)], unprotected), burst(2, median=200.0))
    assert fewer.interrupted_agents == 1


def test_an_agent_inside_its_idle_grace_is_not_picked_by_scale_in() -> None:
    """Three agents each take one 20 s message at 10 s; the scale-in at 35 s waits for the grace."""
    config = fleet(min_agents=0, max_agents=10)

    def gone_at(life: AgentLifecycle) -> float:
        run = simulate(config, Script([(0, 3), (35, 0)], life), burst(3, at=10))
        return float(run.t[np.flatnonzero((run.t > 10) & (run.running < 3))[0]])

    assert gone_at(replace(LIFE, protection_idle_grace_seconds=30.0)) >= 10 + 20 + 30
    assert gone_at(LIFE) == 36  # done at 30 s: removed at the scale-in itself


def test_the_models_idle_grace_is_the_runtimes() -> None:
    config = fleet()
    grace = {n: targets.build(n, config).lifecycle.protection_idle_grace_seconds for n in targets.names()}
    clouds = {n: DEFAULT_IDLE_GRACE_SECONDS for n in TARGETS}
    assert grace == {**clouds, "local": LocalProtection.idle_grace_seconds}


def test_lower_bound_and_cost_ratio() -> None:
    config = fleet(min_agents=0, max_agents=4)
    m = metrics.measure(simulate(config, Script([(0, 4), (300, 0)]), burst(40, median=20.0)))
    assert m.lower_bound_agent_seconds == pytest.approx(800.0)
    assert m.cost_ratio > 1.0
    assert m.first_agent_delay_seconds == pytest.approx(5.0, abs=1.0)
    assert m.drain_seconds == pytest.approx(5 + 10 * 20, abs=2)


def test_every_registered_target_has_a_model_and_local_is_the_real_autoscaler() -> None:
    config = fleet()
    for name in TARGETS:
        model = targets.build(name, config)
        assert model.lifecycle.warmup_seconds == config.scaling.warmup_seconds
    local = targets.build("local", config)
    assert isinstance(local.scaler, LocalAutoscaler)  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="--target"):
        targets.factory("nimbus")


def test_every_built_in_scenario_runs_on_every_target() -> None:
    config = fleet(max_agents=20)
    for target in targets.names():
        for name in ("viral-burst", "trickle"):
            sc = scenario(name, config, Durations())
            m = metrics.measure(simulate(config, targets.build(target, config), sc))
            # Azure's trickle too: its fleet keeps one agent (docs/azure.md, "Scaling from zero").
            assert m.completed == m.tasks, (target, name)


def test_sweep_sets_a_numeric_key_and_names_a_bad_one() -> None:
    key, values = sweep.parse("scaling.target_backlog_per_agent=5:20:5")
    assert values == [5, 10, 15, 20]
    assert sweep.with_value(fleet(), key, 15).scaling.target_backlog_per_agent == 15
    with pytest.raises(ConfigError, match="scaling.nope"):
        sweep.with_value(fleet(), "scaling.nope", 1)
    with pytest.raises(ConfigError, match="max_agents"):
        sweep.with_value(fleet(), "scaling.max_agents", 0)


def test_cli_json_compare_and_sweep(tmp_path) -> None:  # noqa: ANN001
    stack = tmp_path / "s.yaml"
    stack.write_text(
        "config:\n  agentfleet:cloud: azure\n  agentfleet:fleet:\n    name: clitest\n"
        "    agent: {image: 'ghcr.io/acme/a:1'}\n"
    )
    runner = CliRunner()
    drained = {}
    for delay in ("180", "60"):
        timing = ["--timing", f"metric_delay_seconds={delay}", "--timing", "evaluation_seconds=30"]
        out = runner.invoke(app, ["simulate", "--config", str(stack), *timing, "--json"])
        assert out.exit_code == 0, out.output
        data = json.loads(out.stdout)
        assert data["tasks"] == data["completed"] == 717 and "actions.backlog-burst" in data["extra"]
        drained[delay] = data["drain_seconds"]
    assert drained["60"] < drained["180"]  # fresher metrics drain the burst sooner
    out = runner.invoke(app, ["simulate", "--config", str(stack), "--timing", "boot_minutes=3"])
    assert out.exit_code != 0 and "metric_delay_seconds" in out.output
    out = runner.invoke(
        app, ["simulate", "--config", str(stack), "--compare", "--json", "--chart", str(tmp_path / "c.png")]
    )
    assert out.exit_code == 0, out.output
    assert set(json.loads(out.stdout[out.stdout.index("{") :])["runs"]) >= {
        "agentfleet",
        "step-100-20",
        "always-on-max",
    }
    assert (tmp_path / "c.png").stat().st_size > 0
    out = runner.invoke(app, ["simulate", "--config", str(stack), "--target", "gcp", "--json",
                              "--sweep", "scaling.target_backlog_per_agent=5:10:5"])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert len(json.loads(out.stdout)["runs"]) == 2


def test_policy_is_built_from_the_same_config() -> None:
    config = fleet(target_backlog_per_agent=7)
    model = targets.build("aws", config)
    assert model.policy == ScalingPolicy.from_config(config)  # type: ignore[attr-defined]


def test_a_csv_trace_per_second_or_per_minute(tmp_path) -> None:  # noqa: ANN001
    from agentfleet.simulate.scenarios import from_csv

    seconds = tmp_path / "s.csv"
    seconds.write_text("0,5\n10,3\n")
    s = from_csv(seconds, Durations())
    assert s.tasks == 8 and s.arrivals[0] == 5 and s.arrivals[10] == 3
    minutes = tmp_path / "m.csv"
    minutes.write_text("minute,arrivals\n0,120\n2,60\n")
    m = from_csv(minutes, Durations())
    assert m.tasks == 180 and m.arrivals[:60].sum() == 120 and m.arrivals[60:120].sum() == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("0,5\nlots,3\n")
    with pytest.raises(ConfigError, match="--trace"):
        from_csv(bad, Durations())
