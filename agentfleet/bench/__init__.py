"""`agentfleet bench` / `make bench`: the performance figures the README records.

Each benchmark is a module in this package exposing `NAME` and `run(quick: bool) -> list[Figure]`.
They are measurements, not tests: they print figures and the targets they are held against, and
exit non-zero only when asked to enforce targets (`--check`).
"""

from __future__ import annotations

import importlib
import json
import subprocess
from dataclasses import asdict, dataclass
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

#: Benchmark modules, in the order they run.
BENCHMARKS = ("runtime_sqlite", "runtime_sqs", "synth", "elasticity", "simulate")


@dataclass
class Figure:
    """One measured number, and the target it is held against (if any)."""

    benchmark: str
    name: str
    value: float
    unit: str
    target: str = ""
    met: bool | None = None


def stop_process(process: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float = 20) -> None:
    """End a benchmark's helper process (consumer, agent, moto server): SIGTERM, then SIGKILL."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def bench(
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help=f"run only these benchmarks: {', '.join(BENCHMARKS)}", metavar="ONLY"),
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="smaller workloads: a smoke run, not figures to record")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
    check: Annotated[bool, typer.Option("--check", help="exit 1 if a figure misses its target")] = False,
) -> None:
    """Measure throughput, runtime overhead, synth time and elasticity on this machine."""
    console = Console(stderr=True)
    figures: list[Figure] = []
    for name in only or BENCHMARKS:
        if name not in BENCHMARKS:
            raise typer.BadParameter(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
        module = importlib.import_module(f"agentfleet.bench.{name}")
        console.print(f"[bold]bench {name}[/] …")
        figures.extend(module.run(quick=quick))
    if as_json:
        print(json.dumps([asdict(f) for f in figures], indent=2))
    else:
        table = Table("benchmark", "figure", "value", "target", "met")
        for f in figures:
            met = "" if f.met is None else ("yes" if f.met else "NO")
            table.add_row(f.benchmark, f.name, f"{f.value:,.2f} {f.unit}", f.target, met)
        Console().print(table)
    if check and any(f.met is False for f in figures):
        raise typer.Exit(1)
