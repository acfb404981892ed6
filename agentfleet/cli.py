"""`agentfleet`: the command line. Each command group lives in the module that owns its job.

- `agentfleet plan`        -> agentfleet/plan.py   (the Pulumi program under mocks, offline)
- `agentfleet agent ...`   -> agent/cli.py         (the runtime inside every agent)
- `agentfleet local ...`   -> agentfleet/local/cli.py (the fleet on one machine)
- `agentfleet bench`       -> agentfleet/bench/    (throughput, overhead, synth time, elasticity)
"""

from __future__ import annotations

import typer

from agentfleet.agent.cli import agent_app
from agentfleet.bench import bench
from agentfleet.local.cli import local_app
from agentfleet.plan import plan
from agentfleet.simulate.cli import simulate

app = typer.Typer(
    name="agentfleet",
    help="Elastic, queue-driven agent fleets on AWS, Azure or GCP from one config, and on one machine.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("plan")(plan)
app.command("bench")(bench)
app.command("simulate")(simulate)
app.add_typer(agent_app, name="agent")
app.add_typer(local_app, name="local")

if __name__ == "__main__":
    app()
