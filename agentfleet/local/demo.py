"""`agentfleet local demo` / `make demo`: a burst of work on a fleet that starts and ends at zero.

The scenario is one period of bursty traffic. The fleet starts with no agent; after a short
lead-in a spike of `tasks` inventory-reconciliation tasks lands in the queue at once; the
autoscaler (the shared scaling policy) scales 0 → max, the agents drain the backlog, and after
the scale-in cooldown the fleet goes back to 0 and stays there until the period ends (it runs
on past the period if the fleet is not back at zero yet — the window is never cut short).

`--scenario long-tasks` is the busy-agent case (docs/DESIGN.md, "Busy agents"): tasks four times
longer than the drain timeout, a burst that fills every agent twice over (each runs `concurrency`
tasks and holds as many more), then a lull. Once the first wave is done, the backlog per agent is
half the target, so the autoscaler scales in while every agent is still busy with its second wave.
With protection no busy agent is drained (the report's `interrupted by scale-in` must be 0);
with `--no-protection` the youngest agents are drained mid-task and the row shows it.

At the end the state store is audited task by task (see `sample_agent.audit_effects`) and the
report printed; the process exits non-zero if anything was lost, applied twice or interrupted.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.live import Live

from agentfleet.components.problems import ConfigError, ConfigProblem
from agentfleet.components.schema import FleetConfig
from agentfleet.local import progress, sample_agent
from agentfleet.local.autoscaler import AutoscalerLoop, Sample
from agentfleet.local.chaos import Chaos
from agentfleet.local.chart import write_chart
from agentfleet.local.report import DemoReport
from agentfleet.local.stack import LocalPaths, load_config_file, stack_file
from agentfleet.local.store import open_local_bucket, open_local_state, open_queue
from agentfleet.local.supervisor import AgentExit, Supervisor

DEMO_STACK = "local-demo"
SAMPLE_HANDLER = "agentfleet.local.sample_agent:handle"
SCENARIOS = ("burst", "long-tasks")
#: long-tasks: the drain timeout, and work per task four times as long.
LONG_TASK_DRAIN_SECONDS = 2
LONG_TASK_WORK_SECONDS = 4.0 * LONG_TASK_DRAIN_SECONDS


@dataclass
class DemoOptions:
    config: FleetConfig
    out: Path
    tasks: int = 3000
    #: Simulated work per task (the sample agent's INVENTORY_WORK_SECONDS); from the stack's
    #: agent.env when it sets it.
    work_seconds: float = 0.2
    #: The observation window: one period of the bursty traffic.
    period_seconds: float = 90.0
    lead_in_seconds: float = 2.0
    chaos: bool = False
    chaos_every_seconds: float = 3.0
    #: Give up (and report what is left as lost) this long after the period ends.
    overrun_seconds: float = 120.0
    tick_seconds: float = 0.5
    live: bool = True
    seed: int = 7
    scenario: str = "burst"
    #: Busy agents protected from scale-in (False: `--no-protection`, a busy-blind scale-in).
    protection: bool = True
    handler: str = SAMPLE_HANDLER


@dataclass
class DemoResult:
    report: DemoReport
    samples: list[Sample]
    chart: Path
    report_json: Path
    #: (seconds since the loop started, "start" | "ready" | "drain" | "drained" | "crashed" | …, agent id)
    events: list[tuple[float, str, int]] = field(default_factory=list)
    exits: list[AgentExit] = field(default_factory=list)
    spike_at: float | None = None


def demo_config() -> FleetConfig:
    """The demo's stack: stacks/local-demo.yaml (short warm-up and cooldown, so it fits in 3 minutes)."""
    return load_config_file(stack_file(DEMO_STACK))


def long_tasks_config(base: FleetConfig) -> FleetConfig:
    """The long-tasks fleet: `base` with numbers that make a scale-in meet busy agents.

    4 agents x concurrency 2, each holding 2 more (the runtime prefetches `concurrency`), so a
    burst of 16 fills the fleet; target 4 per agent, so when half the tasks are done the backlog
    (8) calls for 2 agents while all 4 still run their second wave."""
    agent = base.agent.model_copy(update={"concurrency": 2, "drain_timeout_seconds": LONG_TASK_DRAIN_SECONDS})
    scaling = base.scaling.model_copy(
        update={
            "min_agents": 0,
            "max_agents": 4,
            "target_backlog_per_agent": 4,
            "warmup_seconds": 1,
            "scale_in_cooldown_seconds": 2,
        }
    )
    queue = base.queue.model_copy(update={"visibility_timeout_seconds": 10})
    return base.model_copy(update={"agent": agent, "scaling": scaling, "queue": queue})


def scenario_options(
    scenario: str,
    config: FleetConfig,
    out: Path,
    *,
    tasks: int | None = None,
    period: float | None = None,
    chaos: bool = False,
    protection: bool = True,
) -> DemoOptions:
    """The options of a named scenario; `tasks` / `period` override its defaults when given."""
    if scenario == "long-tasks":
        config = long_tasks_config(config)
        full = config.scaling.max_agents * config.scaling.target_backlog_per_agent
        return DemoOptions(
            config=config,
            out=out,
            tasks=tasks or full,
            work_seconds=LONG_TASK_WORK_SECONDS,
            period_seconds=period or 1.0,  # end once the fleet is back at zero
            chaos=chaos,
            scenario=scenario,
            protection=protection,
        )
    if scenario != "burst":
        raise ConfigError([ConfigProblem("--scenario", scenario, f"must be one of {', '.join(SCENARIOS)}")])
    return DemoOptions(
        config=config,
        out=out,
        tasks=tasks or 3000,
        work_seconds=work_seconds_of(config),
        period_seconds=period or 90.0,
        chaos=chaos,
        protection=protection,
    )


def work_seconds_of(config: FleetConfig, default: float = 0.2) -> float:
    raw = config.agent.env.get(sample_agent.WORK_SECONDS_ENV)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(
            [
                ConfigProblem(
                    f"fleet.agent.env.{sample_agent.WORK_SECONDS_ENV}", raw, "must be a number of seconds"
                )
            ]
        ) from None


def run_demo(opts: DemoOptions, console: Console | None = None) -> DemoResult:
    """Run the scenario end to end; never leaves an agent process behind."""
    console = console or Console()
    paths = LocalPaths(opts.out / "state")
    if paths.root.exists():
        shutil.rmtree(paths.root)  # a fresh queue and state store: the audit counts this run only
    paths.create()
    config = opts.config
    queue = open_queue(config, paths)
    state = open_local_state(config, paths)
    bucket = open_local_bucket(config, paths)
    console.print(
        f"[bold]agentfleet local demo[/]: writing {opts.tasks:,} vendor stock files to {paths.bucket} …"
    )
    tasks = sample_agent.make_tasks(bucket, opts.tasks, seed=opts.seed)
    supervisor = Supervisor(
        config,
        paths,
        handler=opts.handler,
        extra_env={sample_agent.WORK_SECONDS_ENV: str(opts.work_seconds)},
        protection=opts.protection,
    )
    loop = AutoscalerLoop(supervisor, queue.stats, interval=opts.tick_seconds)
    chaos = Chaos(supervisor, every_seconds=opts.chaos_every_seconds) if opts.chaos else None
    scenario = _Scenario(opts, loop, chaos, lambda: queue.send_many(t.body() for t in tasks))
    peak = opts.tasks
    try:
        if opts.live and console.is_terminal:
            with Live(console=console, refresh_per_second=4, transient=False) as live:

                def show(sample: Sample) -> None:
                    scenario.on_tick(sample)
                    live.update(
                        progress.render(
                            sample,
                            name=config.name,
                            max_agents=config.scaling.max_agents,
                            throughput=loop.throughput(),
                            peak_backlog=peak,
                            note=scenario.note(),
                        )
                    )

                finished = loop.run(scenario.finished, scenario.timeout, on_tick=show)
        else:
            finished = loop.run(scenario.finished, scenario.timeout, on_tick=scenario.logging_tick(console))
        window_end = supervisor.clock()
        agent_seconds = supervisor.agent_seconds(window_end)
    finally:
        supervisor.stop_all()
    if not finished:
        console.print(f"[red]the fleet did not drain and return to zero within {scenario.timeout:.0f} s[/]")
    audit = sample_agent.audit_effects(state, tasks)
    dead_ids = {json.loads(d.body).get("task") for d in queue.dead_letters()}
    lost = sum(1 for task_id in audit.missing if task_id not in dead_ids)
    samples = loop.samples
    report = DemoReport(
        tasks=opts.tasks,
        done=audit.done,
        lost=lost,
        duplicate_effects=audit.duplicates,
        inconsistent_records=audit.wrong_units + audit.unexpected,
        dead_lettered=len(dead_ids),
        max_agents=config.scaling.max_agents,
        concurrency=config.agent.concurrency,
        work_seconds=opts.work_seconds,
        warmup_seconds=config.scaling.warmup_seconds,
        drain_seconds=scenario.drain_seconds(),
        window_seconds=window_end - loop.started_at,
        agent_seconds=agent_seconds,
        peak_agents=max((s.agents for s in samples), default=0),
        agents_started=len(supervisor.exits) + len(supervisor.agents),
        agents_killed_by_chaos=len(chaos.kills) if chaos else 0,
        chaos=opts.chaos,
        interrupted_by_scale_in=supervisor.interrupted_by_scale_in,
        protection=opts.protection,
        scenario=opts.scenario,
    )
    for closeable in (queue, state, bucket):
        closeable.close()
    opts.out.mkdir(parents=True, exist_ok=True)
    marks = [(scenario.spike_at or 0.0, "spike")]
    if chaos:
        marks += [(at - loop.started_at, f"kill #{agent}") for at, agent in chaos.kills]
    chart = write_chart(
        samples,
        opts.out / "demo-chart.png",
        title=f"{opts.tasks:,} tasks burst on '{config.name}': backlog and agents"
        + (" (chaos: SIGKILL)" if opts.chaos else "")
        + ("" if opts.protection else " (no protection)"),
        max_agents=config.scaling.max_agents,
        marks=marks,
    )
    report_json = opts.out / "demo-report.json"
    report_json.write_text(report.to_json())
    events = [(at - loop.started_at, kind, agent) for at, kind, agent in supervisor.events]
    return DemoResult(report, samples, chart, report_json, events, list(supervisor.exits), scenario.spike_at)


class _Scenario:
    """When the spike is sent, when the burst counts as drained, and when the run is over."""

    def __init__(
        self, opts: DemoOptions, loop: AutoscalerLoop, chaos: Chaos | None, send: Callable[[], object]
    ) -> None:
        self.opts = opts
        self.loop = loop
        self.chaos = chaos
        self.send = send
        self.spike_at: float | None = None
        self.drained_at: float | None = None
        self.timeout = opts.lead_in_seconds + opts.period_seconds + opts.overrun_seconds
        self._last_log = -10.0

    def on_tick(self, sample: Sample) -> None:
        if self.spike_at is None and sample.t >= self.opts.lead_in_seconds:
            self.spike_at = self.loop.elapsed()
            self.send()
            return
        if self.spike_at is not None and self.drained_at is None and sample.backlog == 0:
            self.drained_at = sample.t
        if self.chaos is not None and self.spike_at is not None and self.drained_at is None:
            self.chaos.maybe_strike(self.loop.clock())

    def finished(self, sample: Sample) -> bool:
        return (
            self.drained_at is not None
            and sample.agents == 0
            and sample.t >= self.opts.lead_in_seconds + self.opts.period_seconds
        )

    def drain_seconds(self) -> float:
        if self.spike_at is None or self.drained_at is None:
            return float("inf")
        return self.drained_at - self.spike_at

    def note(self) -> str:
        if self.spike_at is None:
            return "waiting for the spike …"
        if self.drained_at is None:
            kills = f" · {len(self.chaos.kills)} agents SIGKILLed" if self.chaos else ""
            return f"burst of {self.opts.tasks:,} tasks sent at t={self.spike_at:.1f}s, draining{kills}"
        return (
            f"backlog drained in {self.drained_at - self.spike_at:.1f}s; "
            f"scaling in, then idle until t={self.opts.lead_in_seconds + self.opts.period_seconds:.0f}s"
        )

    def logging_tick(self, console: Console) -> Callable[[Sample], None]:
        """Without a terminal: one line every 5 seconds instead of the live view."""

        def tick(sample: Sample) -> None:
            self.on_tick(sample)
            if sample.t - self._last_log >= 5.0:
                self._last_log = sample.t
                console.print(
                    f"t={sample.t:5.1f}s backlog {sample.backlog:5d} · agents {sample.ready} ready "
                    f"{sample.warming} warming {sample.draining} draining (target {sample.desired}, "
                    f"{sample.protected} busy) · "
                    f"{self.loop.throughput():.0f} msg/s · dead {sample.dead_lettered}",
                    soft_wrap=True,
                    highlight=False,
                )

        return tick
