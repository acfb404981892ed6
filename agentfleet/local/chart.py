"""A PNG of the run: backlog and agents over time, for the README and the demo's output.

Matplotlib with the Agg backend: no display needed, same picture on a laptop and in CI.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first

from agentfleet.local.autoscaler import Sample  # noqa: E402


def write_chart(
    samples: Sequence[Sample],
    path: Path,
    *,
    title: str,
    max_agents: int,
    marks: Sequence[tuple[float, str]] = (),
) -> Path:
    """Backlog (left axis) and agents by state (right axis, stacked) against seconds; `marks` are
    labelled vertical lines (the spike, chaos kills)."""
    if not samples:
        raise ValueError(f"no samples to chart into {path}: the fleet loop never ran")
    t = [s.t for s in samples]
    fig, ax = plt.subplots(figsize=(10, 5), dpi=110)
    backlog = [s.backlog for s in samples]
    ax.step(t, backlog, where="post", color="#08519c", linewidth=2, label="backlog (waiting + in flight)")
    ax.set_xlabel("seconds")
    ax.set_ylabel("messages")
    ax.set_ylim(bottom=0)
    agents_ax = ax.twinx()
    agents_ax.stackplot(
        t,
        [s.ready for s in samples],
        [s.warming for s in samples],
        [s.draining for s in samples],
        labels=["ready", "warming", "draining"],
        colors=["#31a354", "#fdae6b", "#bc80bd"],
        alpha=0.45,
        step="post",
    )
    agents_ax.step(t, [s.desired for s in samples], where="post", color="black", linewidth=1, label="target")
    agents_ax.set_ylabel("agents")
    agents_ax.set_ylim(0, max_agents + 1)
    # The backlog line on top of the agents' areas (the twin axis is drawn last by default).
    ax.set_zorder(agents_ax.get_zorder() + 1)
    ax.patch.set_visible(False)
    for at, label in marks:
        ax.axvline(at, color="red", linestyle=":", linewidth=0.8)
        ax.annotate(label, (at, 0), rotation=90, fontsize=7, color="red", va="bottom", ha="right")
    handles, labels = ax.get_legend_handles_labels()
    h2, l2 = agents_ax.get_legend_handles_labels()
    ax.legend(handles + h2, labels + l2, loc="upper right", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
