"""`--compare`: the same trace under other scaling policies, on the same target's timings.

Each alternative keeps the target's agents (boot, warm-up, drain: the target model's
`lifecycle` and `boot_seconds`) and replaces only the decision:

- agentfleet: this project's policy, as the target configures it (the target's own model);
- backlog-per-instance: the AWS documentation's target tracking on visible messages per
  in-service instance (in-flight messages not counted), with target tracking's 3 / 15 datapoints;
  it has no path from zero agents, so it runs with min_agents at least 1;
- step-100-20: a common hand-written pair of alarms: +1 agent at >= 100 visible messages, -1 at
  <= 20, one-minute datapoints, 300 s cooldown;
- always-on-max / always-on-mean: a fixed fleet of max_agents, or of the mean the trace needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from agentfleet.components.schema import FleetConfig
from agentfleet.components.simulation import AgentLifecycle, AutoscalerModel, FleetView, MetricSeries
from agentfleet.simulate.scenarios import Scenario


class _Alternative:
    """Decides on its own; boots and drains agents the way the target does."""

    def __init__(self, base: AutoscalerModel) -> None:
        self.base = base
        self.lifecycle: AgentLifecycle = base.lifecycle
        timings = getattr(base, "timings", None)
        self.delay = float(getattr(timings, "metric_delay_seconds", 60.0))

    def boot_seconds(self, view: FleetView, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.base.boot_seconds(view, rng, n)

    def extra(self) -> dict[str, float]:
        return {}


class BacklogPerInstance(_Alternative):
    def __init__(self, base: AutoscalerModel, config: FleetConfig) -> None:
        super().__init__(base)
        self.s = config.scaling
        self.visible = MetricSeries(60.0, self.delay)
        self.agents = MetricSeries(60.0, self.delay, stat="mean")
        self.next_eval = 0.0

    def step(self, view: FleetView) -> int:
        self.visible.record(view.t, view.waiting)
        self.agents.record(view.t, view.ready)
        if view.t < self.next_eval:
            return view.capacity
        self.next_eval = view.t + 60.0
        vis, ags = self.visible.latest(view.t, 15), self.agents.latest(view.t, 15)
        target = self.s.target_backlog_per_agent
        if view.capacity == 0:
            # The documentation's set-up has no from-zero path; min_agents keeps one agent.
            return view.capacity
        ratios = [v / a if a > 0 else math.inf for v, a in zip(vis, ags, strict=False)]
        if len(ratios) >= 3 and all(r > target for r in ratios[-3:]):
            return max(view.capacity, math.ceil(vis[-1] / target))
        if len(ratios) == 15 and all(r < 0.9 * target for r in ratios):
            return min(view.capacity, math.ceil(vis[-1] / target))
        return view.capacity


class StepAlarms(_Alternative):
    def __init__(
        self, base: AutoscalerModel, high: int = 100, low: int = 20, cooldown: float = 300.0
    ) -> None:
        super().__init__(base)
        self.high, self.low, self.cooldown = high, low, cooldown
        self.visible = MetricSeries(60.0, self.delay)
        self.next_eval = 0.0
        self.blocked_until = -math.inf

    def step(self, view: FleetView) -> int:
        self.visible.record(view.t, view.waiting)
        if view.t < self.next_eval:
            return view.capacity
        self.next_eval = view.t + 60.0
        vis = self.visible.latest(view.t, 1)
        if not vis or view.t < self.blocked_until:
            return view.capacity
        if vis[-1] >= self.high:
            self.blocked_until = view.t + self.cooldown
            return view.capacity + 1
        if vis[-1] <= self.low and view.capacity > 0:
            self.blocked_until = view.t + self.cooldown
            return view.capacity - 1
        return view.capacity


class AlwaysOn(_Alternative):
    def __init__(self, base: AutoscalerModel, agents: int) -> None:
        super().__init__(base)
        self.agents = agents

    def step(self, view: FleetView) -> int:
        return self.agents


def mean_agents(config: FleetConfig, scenario: Scenario) -> int:
    """Agents the trace keeps busy on average: its work over its length, per agent's slots."""
    work = scenario.tasks * scenario.durations.mean_seconds
    return max(1, math.ceil(work / config.agent.concurrency / scenario.seconds))


def alternatives(
    config: FleetConfig, scenario: Scenario, build: Callable[[FleetConfig], AutoscalerModel]
) -> list[tuple[str, FleetConfig, AutoscalerModel]]:
    """(name, the config it runs with, its model) for every policy compared."""
    fixed = lambda n: config.model_copy(  # noqa: E731
        update={
            "scaling": config.scaling.model_copy(
                update={"min_agents": n, "max_agents": max(n, config.scaling.max_agents)}
            )
        }
    )
    mean = min(config.scaling.max_agents, mean_agents(config, scenario))
    # The documentation's set-up has no path from zero agents: it keeps at least one.
    docs_min = config.model_copy(
        update={
            "scaling": config.scaling.model_copy(update={"min_agents": max(1, config.scaling.min_agents)})
        }
    )
    return [
        ("agentfleet", config, build(config)),
        ("backlog-per-instance", docs_min, BacklogPerInstance(build(docs_min), docs_min)),
        ("step-100-20", config, StepAlarms(build(config))),
        (
            "always-on-max",
            fixed(config.scaling.max_agents),
            AlwaysOn(build(config), config.scaling.max_agents),
        ),
        (f"always-on-mean ({mean})", fixed(mean), AlwaysOn(build(config), mean)),
    ]
