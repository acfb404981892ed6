"""A run shown three ways: a rich table, JSON, and a PNG chart (backlog; agents by state; target)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from agentfleet.simulate.engine import Run
from agentfleet.simulate.metrics import Metrics

ROWS: tuple[tuple[str, str, str], ...] = (
    ("tasks", "tasks", "{:,.0f}"),
    ("drain_seconds", "time to drain the burst", "{:,.0f} s"),
    ("age_p50_seconds", "message age p50", "{:,.0f} s"),
    ("age_p95_seconds", "message age p95", "{:,.0f} s"),
    ("age_max_seconds", "message age max", "{:,.0f} s"),
    ("first_agent_delay_seconds", "first agent after work at zero", "{:,.0f} s"),
    ("worst_first_agent_delay_seconds", "  worst of the cold starts", "{:,.0f} s"),
    ("cold_starts", "cold starts", "{:,.0f}"),
    ("agent_hours", "agent-hours", "{:,.2f}"),
    ("cost_ratio", "  / perfect provisioning", "{:,.2f}x"),
    ("always_on_ratio", "  / always-on at max", "{:,.2f}x"),
    ("peak_agents", "peak agents", "{:,.0f}"),
    ("scale_out_events", "scale-out events", "{:,.0f}"),
    ("scale_in_events", "scale-in events", "{:,.0f}"),
    ("interrupted_agents", "busy agents picked by scale-in", "{:,.0f}"),
    ("interrupted_messages", "messages cut off by scale-in", "{:,.0f}"),
)


def _cell(value: object, fmt: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value == float("inf"):
        return "never"
    return fmt.format(value)


def table(results: Sequence[tuple[str, Metrics]], title: str, caption: str = "") -> Table:
    """One column per run (a target, a policy, a sweep point)."""
    t = Table(title=title, caption=caption or None)
    t.add_column("measure")
    for name, _ in results:
        t.add_column(name, justify="right")
    for key, label, fmt in ROWS:
        t.add_row(label, *(_cell(m.to_dict()[key], fmt) for _, m in results))
    return t


def chart(run: Run, path: Path, title: str) -> Path:
    """Backlog on top; agents by state (stacked) and the capacity the model set below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    step = max(1, len(run.t) // 4000)
    hours = run.duration > 3 * 3600
    x = run.t[::step] / (3600 if hours else 60)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, height_ratios=(1, 1.2))
    top.plot(x, run.waiting[::step], label="waiting", color="tab:red")
    top.plot(x, run.in_flight[::step], label="in flight", color="tab:orange")
    top.set_ylabel("messages")
    top.legend(loc="upper right")
    top.set_title(title)
    states = [run.provisioning, run.warming, run.ready, run.draining]
    labels = ["provisioning", "warming", "ready", "draining"]
    colors = ["#c7c7c7", "#ffd27f", "#2ca02c", "#9467bd"]
    bottom.stackplot(x, *(s[::step] for s in states), labels=labels, colors=colors, step="post")
    bottom.step(x, run.capacity[::step], where="post", color="black", lw=1, label="target (capacity)")
    bottom.set_ylabel("agents")
    bottom.set_xlabel("hours" if hours else "minutes")
    bottom.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
