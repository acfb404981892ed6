"""The one ground truth: what `agentfleet simulate --target local` predicts, against real local fleets.

Each test runs real agent processes once (about 90-100 s) and holds the prediction within 15 %
of the measurement. Only what is stable between real runs on a loaded 2-core machine is held
here; the compressed spike's agent-seconds (262-389 s measured for one trace) are reported by
`agentfleet bench --only simulate` instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentfleet.cli import app
from agentfleet.local.demo import DemoOptions, demo_config, run_demo, work_seconds_of
from agentfleet.simulate import metrics, scenarios, targets
from agentfleet.simulate.engine import simulate
from agentfleet.simulate.groundtruth import run_local

pytestmark = [pytest.mark.slow, pytest.mark.alone]

REPO = Path(__file__).resolve().parents[2]
TOLERANCE = 0.15


def test_simulate_predicts_make_demo_within_15_percent(tmp_path: Path) -> None:
    config = demo_config()
    run_demo(DemoOptions(config=config, out=tmp_path, work_seconds=work_seconds_of(config), live=False))
    measured = json.loads((tmp_path / "demo-report.json").read_text())
    out = CliRunner().invoke(
        app,
        [
            "simulate",
            "--config",
            str(REPO / "stacks/local-demo.yaml"),
            "--target",
            "local",
            "--scenario",
            "demo",
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    predicted = json.loads(out.stdout)
    for key in ("drain_seconds", "agent_seconds"):
        assert predicted[key] == pytest.approx(measured[key], rel=TOLERANCE), key


def test_simulate_predicts_a_compressed_daily_spike_drain_within_15_percent(tmp_path: Path) -> None:
    config = demo_config()
    spike = scenarios.local_spike(config)
    measured = run_local(config, spike, tmp_path)
    assert measured.tasks == spike.tasks
    predicted = metrics.measure(simulate(config, targets.build("local", config), spike))
    assert predicted.drain_seconds == pytest.approx(measured.drain_seconds, rel=TOLERANCE)
