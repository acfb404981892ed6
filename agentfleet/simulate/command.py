"""`agentfleet simulate`, behind its options: load the config, run, show."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console

from agentfleet.components.problems import ConfigError
from agentfleet.components.schema import FleetConfig
from agentfleet.local.stack import load_config_file, stack_file
from agentfleet.simulate import compare, metrics, report, scenarios, sweep, targets
from agentfleet.simulate.engine import simulate as run_simulation


def _cloud_of(path: Path) -> str | None:
    try:
        doc = yaml.safe_load(path.read_text())
        cloud = doc["config"].get("agentfleet:cloud")
        return str(cloud) if cloud else None
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError):
        return None


def _scenario(name: str, trace: Path | None, config: FleetConfig, durations: scenarios.Durations, seed: int):  # noqa: ANN202
    if trace is not None:
        return scenarios.from_csv(trace, durations)
    return scenarios.scenario(name, config, durations, seed=seed)


def run(
    stack: str | None,
    config_file: Path | None,
    target: str | None,
    scenario: str,
    trace: Path | None,
    duration: float,
    sigma: float,
    as_json: bool,
    chart: Path | None,
    do_compare: bool,
    sweep_spec: str | None,
    slo: float,
    seed: int,
    timings: list[str] | None = None,
) -> None:
    """What `agentfleet simulate` does (agentfleet/simulate/cli.py holds its options)."""
    console = Console(stderr=True) if as_json else Console()
    try:
        path = config_file or stack_file(stack or "dev")
        config = load_config_file(path)
        name = target or _cloud_of(path) or "aws"
        build = targets.with_timings(targets.factory(name), timings or [])
        from agentfleet.components.policy import ScalingPolicy

        def model_for(c: FleetConfig):  # noqa: ANN202
            return build(c, ScalingPolicy.from_config(c))

        durations = scenarios.Durations(duration, sigma)
        sc = _scenario(scenario, trace, config, durations, seed)
        if sweep_spec:
            key, values = sweep.parse(sweep_spec)
            results = []
            for v in values:
                c = sweep.with_value(config, key, v)
                sc_v = _scenario(scenario, trace, c, durations, seed)
                results.append(
                    (
                        f"{key.split('.')[-1]}={v:g}",
                        metrics.measure(run_simulation(c, model_for(c), sc_v, seed)),
                    )
                )
            ok = [(n, m) for n, m in results if m.age_p95_seconds <= slo]
            best = min(ok, key=lambda r: r[1].agent_seconds) if ok else None
            _emit(
                console,
                as_json,
                results,
                f"{name} · {sc.name} · sweep {key}",
                {"best": best[0] if best else None, "slo_p95_seconds": slo},
            )
            return
        runs = (
            [(n, run_simulation(c, m, sc, seed)) for n, c, m in compare.alternatives(config, sc, model_for)]
            if do_compare
            else [(name, run_simulation(config, model_for(config), sc, seed))]
        )
    except ConfigError as e:
        raise typer.BadParameter(str(e)) from None
    results = [(n, metrics.measure(r)) for n, r in runs]
    extra = {n: r.extra for n, r in runs}
    if chart is not None:
        report.chart(runs[0][1], chart, f"{config.name} on {name}: {sc.name} ({sc.tasks:,} tasks)")
        console.print(f"chart: {chart}")
    _emit(
        console,
        as_json,
        results,
        f"{config.name} on {name} · {sc.name} ({sc.tasks:,} tasks)",
        {"extra": extra, "caption": sc.description},
    )


def _emit(
    console: Console,
    as_json: bool,
    results: list[tuple[str, metrics.Metrics]],
    title: str,
    more: dict[str, Any],
) -> None:
    if as_json:
        if len(results) == 1:
            out = results[0][1].to_dict()
            out.update(
                {k: (v[results[0][0]] if k == "extra" else v) for k, v in more.items() if k != "caption"}
            )
        else:
            out = {
                "runs": {n: m.to_dict() for n, m in results},
                **{k: v for k, v in more.items() if k != "caption"},
            }
        print(json.dumps(out, indent=2, default=float))
        return
    console.print(report.table(results, title, str(more.get("caption", ""))))
    if "best" in more:
        console.print(f"cheapest within p95 age <= {more['slo_p95_seconds']:g} s: {more['best'] or 'none'}")
