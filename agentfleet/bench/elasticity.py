"""Elasticity of the local fleet on the demo's burst: how close to ideal, how much cheaper.

Runs the `make demo` scenario (stacks/local-demo.yaml: a spike of 3,000 tasks on a fleet that
starts and ends at zero, one 90-second period) with real agent processes, and reports the two
ratios issue 4 holds it to — time to drain / ideal lower bound (≤ 1.3) and agent-seconds /
always-on-at-max (≤ 0.5) — plus the raw numbers behind them and the correctness counts.
`quick` runs a fifth of the burst over a shorter period: a smoke run, not figures to record.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from rich.console import Console

from agentfleet.bench import Figure
from agentfleet.local.demo import DemoOptions, demo_config, run_demo, work_seconds_of
from agentfleet.local.report import AGENT_SECONDS_RATIO_TARGET, DRAIN_RATIO_TARGET

NAME = "elasticity"


def run(quick: bool) -> list[Figure]:
    config = demo_config()
    with tempfile.TemporaryDirectory(prefix="agentfleet-elasticity-") as out:
        opts = DemoOptions(
            config=config,
            out=Path(out),
            tasks=600 if quick else 3000,
            work_seconds=work_seconds_of(config),
            period_seconds=30.0 if quick else 90.0,
            live=False,
        )
        result = run_demo(opts, Console(stderr=True, quiet=True))
    r = result.report
    return [
        Figure(NAME, "drain time / ideal lower bound", r.drain_ratio, "x", f"<= {DRAIN_RATIO_TARGET}",
               r.drain_ratio <= DRAIN_RATIO_TARGET),
        Figure(NAME, "agent-seconds / always-on at max", r.agent_seconds_ratio, "x",
               f"<= {AGENT_SECONDS_RATIO_TARGET}", r.agent_seconds_ratio <= AGENT_SECONDS_RATIO_TARGET),
        Figure(NAME, f"time to drain {r.tasks} tasks", r.drain_seconds, "s"),
        Figure(NAME, "ideal drain (work / (max x concurrency) + warm-up)", r.ideal_drain_seconds, "s"),
        Figure(NAME, "agent-seconds used", r.agent_seconds, "agent-s"),
        Figure(NAME, f"always-on at max ({r.max_agents} x {r.window_seconds:.0f} s window)",
               r.always_on_agent_seconds, "agent-s"),
        Figure(NAME, "tasks lost", r.lost, "tasks", "0", r.lost == 0),
        Figure(NAME, "duplicate effects", r.duplicate_effects, "tasks", "0", r.duplicate_effects == 0),
    ]  # fmt: skip
