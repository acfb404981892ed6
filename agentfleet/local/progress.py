"""The live terminal view of a local fleet: backlog, agents by state, throughput, dead letters.

Rendering only: it reads `Sample`s and the supervisor's counts, decides nothing. `render` returns
a rich renderable so the same view is used by `local up` (forever) and `local demo` (one run).
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from agentfleet.local.autoscaler import Sample

BAR_WIDTH = 26


def _bar(value: int, scale: int, style: str) -> Text:
    filled = 0 if scale <= 0 else min(BAR_WIDTH, round(BAR_WIDTH * value / scale))
    return Text("█" * filled, style=style) + Text("·" * (BAR_WIDTH - filled), style="dim")


def render(
    sample: Sample | None,
    *,
    name: str,
    max_agents: int,
    throughput: float,
    peak_backlog: int,
    note: str = "",
) -> RenderableType:
    """One frame: a table of the fleet now, with bars scaled to the peak backlog and max_agents."""
    if sample is None:
        return Panel(Text("starting …"), title=f"agentfleet local · {name}")
    table = Table.grid(padding=(0, 2))
    table.add_column(justify="right", style="bold", no_wrap=True)
    table.add_column(no_wrap=True, min_width=BAR_WIDTH)
    table.add_column()
    table.add_row(
        "backlog",
        _bar(sample.backlog, max(peak_backlog, 1), "cyan"),
        f"{sample.waiting:,} waiting · {sample.in_flight:,} in flight",
    )
    agents = Text()
    agents.append("▮" * sample.ready, style="green")
    agents.append("▮" * sample.warming, style="yellow")
    agents.append("▮" * sample.draining, style="magenta")
    agents.append("·" * max(0, max_agents - sample.agents), style="dim")
    table.add_row(
        "agents",
        agents,
        f"[green]{sample.ready} ready[/] · [yellow]{sample.warming} warming[/] · "
        f"[magenta]{sample.draining} draining[/]",
    )
    table.add_row("target", Text(f"{sample.desired} agents"), f"scaling policy · max {max_agents}")
    table.add_row("throughput", Text(f"{throughput:,.1f} msg/s"), f"{sample.processed:,.0f} done")
    dead_style = "red bold" if sample.dead_lettered else "green"
    table.add_row("dead letters", Text(f"{sample.dead_lettered:,}", style=dead_style), "")
    parts: list[RenderableType] = [table]
    if note:
        parts.append(Text(note, style="dim"))
    return Panel(Group(*parts), title=f"agentfleet local · {name} · t={sample.t:5.1f}s")
