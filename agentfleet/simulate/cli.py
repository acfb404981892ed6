"""`agentfleet simulate`: replay a scenario against a target's autoscaling model, before deploying.

The options only; the work (numpy, matplotlib) is imported when the command runs, so the rest of
the CLI works without the `local` extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agentfleet.extras import require_extra

SCENARIOS = "viral-burst (default), daily-spike, steady, trickle; local: demo, local-spike"


def simulate(
    stack: Annotated[
        str | None, typer.Option("--stack", help="stack whose config to simulate", metavar="STACK")
    ] = None,
    config_file: Annotated[
        Path | None, typer.Option("--config", help="stack-style YAML file", metavar="CONFIG")
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--target", help="aws | azure | gcp | local (default: the stack's cloud)", metavar="TARGET"
        ),
    ] = None,
    scenario: Annotated[str, typer.Option("--scenario", help=SCENARIOS, metavar="SCENARIO")] = "viral-burst",
    trace: Annotated[
        Path | None,
        typer.Option("--trace", help="CSV of arrivals per second or per minute, instead", metavar="TRACE"),
    ] = None,
    duration: Annotated[
        float, typer.Option("--duration", help="median handler seconds per message", metavar="DURATION")
    ] = 20.0,
    sigma: Annotated[
        float, typer.Option("--sigma", help="lognormal spread of durations (0 = fixed)", metavar="SIGMA")
    ] = 0.5,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
    chart: Annotated[
        Path | None, typer.Option("--chart", help="write a PNG chart here", metavar="CHART")
    ] = None,
    do_compare: Annotated[bool, typer.Option("--compare", help="also run the alternative policies")] = False,
    sweep_spec: Annotated[
        str | None,
        typer.Option("--sweep", help="KEY=start:stop:step over a numeric fleet key", metavar="SWEEP"),
    ] = None,
    slo: Annotated[
        float, typer.Option("--slo", help="p95 message age the sweep must keep (s)", metavar="SLO")
    ] = 300.0,
    seed: Annotated[int, typer.Option("--seed", metavar="SEED")] = 1,
    timing: Annotated[
        list[str] | None,
        typer.Option(
            "--timing", help="NAME=VALUE: set one of the model's timings (docs/simulate.md)", metavar="TIMING"
        ),
    ] = None,
) -> None:
    """Replay traffic against a model of the target's autoscaling loop, configured like `pulumi up`."""
    require_extra("local", "simulate")
    from agentfleet.simulate.command import run

    run(
        stack,
        config_file,
        target,
        scenario,
        trace,
        duration,
        sigma,
        as_json,
        chart,
        do_compare,
        sweep_spec,
        slo,
        seed,
        timing or [],
    )
