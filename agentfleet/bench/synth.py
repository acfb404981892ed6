"""Synth time of one fleet: how long the real Pulumi program takes offline, for Pulumi.dev.yaml.

Two figures:

- `plan wall time`: `agentfleet plan --stack dev` as a user runs it, in a fresh process (Python
  start, provider SDK import, synthesis, printing); median of a few runs, held to the 3 s target.
- `synth, warm`: `agentfleet.synth.synthesize` on the same config in this process once the SDK is
  imported; median of N runs. This is the program's own cost, without interpreter start-up.

The figures depend on the machine's load; `make bench` records them, no test times them.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from agentfleet.bench import Figure
from agentfleet.synth import config_from_stack_file, synthesize

NAME = "synth"
ROOT = Path(__file__).resolve().parents[2]
STACK_FILE = ROOT / "Pulumi.dev.yaml"
PLAN_TARGET_SECONDS = 3.0


def _plan_wall_seconds() -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "agentfleet", "plan", "--stack", "dev"],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return time.perf_counter() - start


def _synth_seconds(config: dict[str, str]) -> float:
    start = time.perf_counter()
    synthesize(config, stack="dev")
    return time.perf_counter() - start


def run(quick: bool) -> list[Figure]:
    config = config_from_stack_file(STACK_FILE)
    cli_runs, synth_runs = (1, 3) if quick else (5, 20)
    plan_median = statistics.median(_plan_wall_seconds() for _ in range(cli_runs))
    _synth_seconds(config)  # first run imports the provider SDK: not part of the warm figure
    warm = [_synth_seconds(config) for _ in range(synth_runs)]
    resources = len(synthesize(config, stack="dev").resources)
    return [
        Figure(
            benchmark=NAME,
            name=f"agentfleet plan --stack dev, wall time (median of {cli_runs})",
            value=plan_median,
            unit="s",
            target=f"< {PLAN_TARGET_SECONDS:g} s",
            met=plan_median < PLAN_TARGET_SECONDS,
        ),
        Figure(
            benchmark=NAME,
            name=f"synth of one fleet ({resources} resources), warm (median of {synth_runs})",
            value=statistics.median(warm) * 1000,
            unit="ms",
        ),
    ]
