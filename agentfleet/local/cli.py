"""`agentfleet local …`: the fleet on this machine, from the same config the clouds use.

agentfleet local up [--stack NAME | --config FILE] [--handler mod:fn] [--chaos] [--no-protection]
                    [--state-dir DIR]
agentfleet local send [N | --file tasks.jsonl] [--state-dir DIR]
agentfleet local status [--state-dir DIR]
agentfleet local demo [--scenario burst|long-tasks] [--no-protection] [--chaos] [--tasks N] [--out DIR]
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.live import Live

from agentfleet.agent.backends.admin_sqlite import SqliteAdmin
from agentfleet.components.problems import ConfigError
from agentfleet.components.schema import FleetConfig
from agentfleet.extras import require_extra
from agentfleet.local import progress, sample_agent
from agentfleet.local.autoscaler import AutoscalerLoop, Sample
from agentfleet.local.chaos import Chaos
from agentfleet.local.stack import DEFAULT_STATE_DIR, LocalPaths, load_fleet
from agentfleet.local.store import open_local_bucket, open_queue
from agentfleet.local.supervisor import AgentStartupError, Supervisor
from agentfleet.ops.send import JsonLinesError, parse_json_lines
from agentfleet.ops.status import collect

local_app = typer.Typer(
    # Click's own help layout: a flag stands bare (`--json`), a value shows its metavar
    # (`--stack STACK`), where typer's rich panels print Python types (`<bool>`, `<str>`).
    rich_markup_mode=None,
    help="Run a fleet on this machine: SQLite queue and state, real agents, the clouds' scaling policy.",
    no_args_is_help=True,
)

STACK_HELP = "stack whose config to use: Pulumi.NAME.yaml or stacks/NAME.yaml (default: dev)"
#: The handler of the built-in demo stack: the only one `local send N`'s generated tasks are for.
SAMPLE_HANDLER = "agentfleet.local.sample_agent:handle"


def send_hint(handler: str | None, state_dir: Path) -> str:
    """The command that sends this fleet work: generated tasks are the sample agent's own, so any
    other handler is pointed at a file of its own messages (it would dead-letter the samples)."""
    if handler == SAMPLE_HANDLER:
        return f"agentfleet local send 100 --state-dir {state_dir}"
    return f"agentfleet local send --file tasks.jsonl --state-dir {state_dir}"


CONFIG_HELP = "a stack-style YAML file with config: agentfleet:fleet (instead of --stack)"
STATE_HELP = "directory holding the fleet's queue, state store, bucket and agent logs"
StackOpt = Annotated[str | None, typer.Option("--stack", help=STACK_HELP, metavar="STACK")]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help=CONFIG_HELP, exists=True, dir_okay=False, metavar="CONFIG")
]
StateDirOpt = Annotated[Path, typer.Option("--state-dir", help=STATE_HELP, metavar="STATE_DIR")]
FLEET_HELP = "which fleet of a config with agentfleet:fleets (the only one when it has one)"
FleetOpt = Annotated[str | None, typer.Option("--fleet", help=FLEET_HELP, metavar="FLEET")]


def _fail(message: str, code: int = 2) -> NoReturn:
    """One plain line on stderr (no panel that wraps it) and the exit code."""
    Console(stderr=True, soft_wrap=True).print(f"[red]{message}[/]", highlight=False)
    raise typer.Exit(code)


def _config(stack: str | None, config_file: Path | None, fleet: str | None = None) -> FleetConfig:
    """Load and validate; a bad config prints one line per problem and exits 2, like `plan`."""
    try:
        return load_fleet(stack, config_file, fleet)
    except ConfigError as exc:
        _fail(str(exc))


def _status_record(paths: LocalPaths, config: FleetConfig, sample: Sample, supervisor: Supervisor) -> None:
    """What `local status` shows about the agents, written atomically every tick by `local up`."""
    record = {
        "pid": os.getpid(),
        "fleet": config.name,
        "updated_at": time.time(),
        "sample": sample.__dict__,
        "agents": [
            {"id": a.id, "pid": a.pid, "port": a.port, "state": a.state.value, "protected": a.protected}
            for a in supervisor.agents.values()
        ],
        "config": config.model_dump(mode="json"),
    }
    tmp = paths.status.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(paths.status)


@local_app.command("up")
def up(
    stack: StackOpt = None,
    config_file: ConfigOpt = None,
    fleet: FleetOpt = None,
    handler: Annotated[
        str | None,
        typer.Option(
            "--handler",
            help="module:function of the handler (default: fleet.agent.handler)",
            metavar="HANDLER",
        ),
    ] = None,
    chaos: Annotated[bool, typer.Option("--chaos", help="SIGKILL a random agent every few seconds")] = False,
    no_protection: Annotated[
        bool, typer.Option("--no-protection", help="scale in busy agents too (a busy-blind scale-in)")
    ] = False,
    state_dir: StateDirOpt = DEFAULT_STATE_DIR,
) -> None:
    """Run the fleet until Ctrl-C: agents follow the queue's backlog; Ctrl-C drains them and exits."""
    config = _config(stack, config_file, fleet)
    paths = LocalPaths(state_dir).create()
    console = Console()
    try:
        supervisor = Supervisor(config, paths, handler=handler, protection=not no_protection)
    except ConfigError as exc:
        _fail(str(exc))
    queue = open_queue(config, paths)
    loop = AutoscalerLoop(supervisor, queue.stats)
    striker = Chaos(supervisor) if chaos else None
    peak = 1
    console.print(
        f"fleet [bold]{config.name}[/] on this machine · state in {paths.root} · "
        f"send work with: {send_hint(handler or config.agent.handler, paths.root)}"
    )
    try:
        with Live(console=console, refresh_per_second=4) as live:

            def tick(sample: Sample) -> None:
                nonlocal peak
                peak = max(peak, sample.backlog)
                if striker is not None:
                    striker.maybe_strike(loop.clock())
                _status_record(paths, config, sample, supervisor)
                live.update(
                    progress.render(
                        sample,
                        name=config.name,
                        max_agents=config.scaling.max_agents,
                        throughput=loop.throughput(),
                        peak_backlog=peak,
                        note="Ctrl-C drains and stops",
                    )
                )

            loop.run(lambda _s: False, timeout=float("inf"), on_tick=tick)
    except KeyboardInterrupt:
        console.print("draining agents …")
    except AgentStartupError as exc:
        _fail(str(exc), 1)
    finally:
        supervisor.stop_all()
        paths.status.unlink(missing_ok=True)
        queue.close()


@local_app.command("send")
def send(
    count: Annotated[
        int, typer.Argument(help="how many generated inventory-reconciliation tasks to send")
    ] = 0,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", help="send one message per line of this JSON-lines file", exists=True, metavar="FILE"
        ),
    ] = None,
    stack: StackOpt = None,
    config_file: ConfigOpt = None,
    fleet: FleetOpt = None,
    state_dir: StateDirOpt = DEFAULT_STATE_DIR,
) -> None:
    """Enqueue work: N generated tasks for the sample agent (their vendor files go to the bucket),
    or every line of a JSON-lines file as one message."""
    if (count > 0) == (file is not None):
        _fail("agentfleet: give either a number of tasks N > 0 or --file tasks.jsonl, not both or neither")
    paths = LocalPaths(state_dir).create()
    config = _running_or_given_config(paths, stack, config_file, fleet)
    queue = open_queue(config, paths)
    try:
        if file is not None:
            bodies = read_jsonl(file)
        else:
            bucket = open_local_bucket(config, paths)
            start = len(bucket.list("vendors/"))
            bodies = [t.body() for t in sample_agent.make_tasks(bucket, count, start=start)]
        sent = queue.send_many(bodies)
        stats = queue.stats()
    finally:
        queue.close()
    Console().print(
        f"sent {sent:,} messages to {paths.queue} · "
        f"now {stats.waiting:,} waiting, {stats.in_flight:,} in flight"
    )


def read_jsonl(path: Path) -> list[bytes]:
    """Each non-blank line must be one JSON value; the error names the file and line."""
    try:
        return parse_json_lines(path.read_text(encoding="utf-8").splitlines(), str(path))
    except JsonLinesError as exc:
        _fail(str(exc))


@local_app.command("status")
def status(
    stack: StackOpt = None,
    config_file: ConfigOpt = None,
    fleet: FleetOpt = None,
    state_dir: StateDirOpt = DEFAULT_STATE_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="print machine-readable JSON")] = False,
) -> None:
    """The queue (waiting, in flight, dead-lettered) and, while `local up` runs, its agents."""
    paths = LocalPaths(state_dir)
    if not paths.queue.exists():
        Console(stderr=True).print(
            f"[red]no local fleet at {paths.root}: run `agentfleet local up` or `send` first[/]"
        )
        raise typer.Exit(1)
    record = _live_record(paths)
    config = _running_or_given_config(paths, stack, config_file, fleet)
    queue = open_queue(config, paths)
    admin = SqliteAdmin(queue)
    try:
        shown = collect(admin, config.name, "local")  # the same status `agentfleet status` shows
    finally:
        admin.close()
        queue.close()
    agents: list[dict[str, Any]] = record["agents"] if record else []
    data: dict[str, Any] = {
        "state_dir": str(paths.root),
        "running": record is not None,
        **shown.as_json(),
        "agents": agents,
    }
    if as_json:
        print(json.dumps(data, indent=2))
        return
    table = shown.table(f"local fleet {config.name} · {paths.root}")
    table.add_row("up", f"running (pid {record['pid']})" if record else "not running")
    by_state: dict[str, int] = {}
    for a in agents:
        by_state[a["state"]] = by_state.get(a["state"], 0) + 1
    table.add_row("agents", ", ".join(f"{n} {s}" for s, n in sorted(by_state.items())) or "0")
    Console().print(table)


def _running_or_given_config(
    paths: LocalPaths, stack: str | None, config_file: Path | None, fleet: str | None
) -> FleetConfig:
    """--stack / --config when given; else the config of the `local up` running on this state
    directory; else the default stack."""
    if stack is None and config_file is None:
        record = _live_record(paths)
        if record is not None:
            return FleetConfig.model_validate(record["config"])
    return _config(stack, config_file, fleet)


def _live_record(paths: LocalPaths) -> dict[str, Any] | None:
    """The status `local up` wrote, if that process is still alive."""
    try:
        record = json.loads(paths.status.read_text())
        os.kill(int(record["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return record if isinstance(record, dict) else None


@local_app.command("demo")
def demo(
    scenario: Annotated[
        str,
        typer.Option(
            "--scenario",
            help="burst: a spike of short tasks, 0 -> max -> 0 agents; long-tasks: tasks 4x the drain "
            "timeout, scaled in while agents are busy (interrupted by scale-in must stay 0)",
            metavar="SCENARIO",
        ),
    ] = "burst",
    no_protection: Annotated[
        bool,
        typer.Option(
            "--no-protection", help="scale in busy agents too, as a busy-blind termination policy does"
        ),
    ] = False,
    chaos: Annotated[bool, typer.Option("--chaos", help="SIGKILL random agents during the burst")] = False,
    tasks: Annotated[
        int | None,
        typer.Option(
            "--tasks", min=1, help="tasks in the burst (burst: 3000; long-tasks: 16)", metavar="TASKS"
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="where the chart, the JSON report and the state go", metavar="OUT")
    ] = Path("out"),
    period: Annotated[
        float | None,
        typer.Option(
            "--period",
            min=1.0,
            help="seconds observed: one period of bursty traffic (burst: 90)",
            metavar="PERIOD",
        ),
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="a stack-style YAML file with config: agentfleet:fleet (default: the built-in demo stack)",
            exists=True,
            metavar="CONFIG",
        ),
    ] = None,
) -> None:
    """Run a scenario, then a report; exits 1 if a task was lost, doubled or interrupted by scale-in."""
    require_extra("local", "local demo")
    # Imported here: matplotlib is only needed by the demo, not by every `agentfleet` command.
    from agentfleet.local.demo import demo_config, run_demo, scenario_options

    try:
        config = load_fleet(None, config_file) if config_file else demo_config()
        opts = scenario_options(
            scenario, config, out, tasks=tasks, period=period, chaos=chaos, protection=not no_protection
        )
    except ConfigError as exc:
        _fail(str(exc))
    console = Console()
    started = time.monotonic()
    try:
        result = run_demo(opts, console)
    except AgentStartupError as exc:
        _fail(str(exc), 1)
    console.print(result.report.table())
    console.print(
        f"chart: {result.chart} · report: {result.report_json} · {time.monotonic() - started:.0f} s in all"
    )
    problems = result.report.violations()
    if problems:
        for p in problems:
            Console(stderr=True).print(f"[red]FAILED: {p}[/]")
        raise typer.Exit(1)
    console.print("[green]zero lost, zero duplicate effects, zero interrupted by scale-in[/]")
