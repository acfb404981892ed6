"""`agentfleet`: the command line. Each command group lives in the module that owns its job.

- `agentfleet plan`        -> agentfleet/plan.py   (the Pulumi program under mocks, offline)
- `agentfleet agent ...`   -> agent/cli.py         (the runtime inside every agent)
- `agentfleet local ...`   -> agentfleet/local/cli.py (the fleet on one machine)
- `agentfleet bench`       -> agentfleet/bench/    (throughput, overhead, synth time, elasticity)
- `agentfleet status`, `dlq ...`, `send` -> agentfleet/ops/ (a deployed fleet, from its stack outputs)
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Annotated

import typer

from agentfleet.agent.cli import agent_app
from agentfleet.bench import bench
from agentfleet.local.cli import local_app
from agentfleet.ops import cli as ops
from agentfleet.plan import plan
from agentfleet.simulate.cli import simulate

app = typer.Typer(
    # Click's own help layout: a flag stands bare (`--json`), a value shows its metavar
    # (`--stack STACK`), where typer's rich panels print Python types (`<bool>`, `<str>`).
    rich_markup_mode=None,
    name="agentfleet",
    help="Elastic, queue-driven agent fleets on AWS, Azure or GCP from one config, and on one machine.",
    no_args_is_help=True,
    add_completion=False,
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"agentfleet {version('agentfleet')}")
        raise typer.Exit()


@app.callback()
def main(
    show_version: Annotated[
        bool,
        typer.Option("--version", help="print the version and exit", callback=_show_version, is_eager=True),
    ] = False,
) -> None:
    """Elastic, queue-driven agent fleets on AWS, Azure or GCP from one config, and on one machine."""


app.command("plan")(plan)
app.command("bench")(bench)
app.command("simulate")(simulate)
app.add_typer(agent_app, name="agent")
app.add_typer(local_app, name="local")
app.command("status")(ops.status)
app.command("send")(ops.send)
app.add_typer(ops.dlq_app, name="dlq")

if __name__ == "__main__":
    app()
