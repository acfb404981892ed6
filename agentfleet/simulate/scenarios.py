"""Traffic to replay: arrivals per tick, and how long each message's handler takes.

Built-in cloud scenarios are sized from the fleet, so they ask the same question of any config:
`capacity` = max_agents x concurrency / mean task duration (messages per second the full fleet
handles), and each scenario's rates are fractions of it (the figures printed with a run say how
many tasks that was). The local scenarios reproduce traffic real local fleets can be run with
(`demo` is `make demo`'s burst; `local-spike` a daily spike compressed into two minutes).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from agentfleet.components.problems import ConfigError, ConfigProblem
from agentfleet.components.schema import FleetConfig

#: The sample agent's simulated work, read from the demo stack's agent.env (agentfleet/local/sample_agent.py).
WORK_SECONDS_ENV = "INVENTORY_WORK_SECONDS"


@dataclass(frozen=True)
class Durations:
    """Handler time per message: lognormal around `median_seconds` (sigma 0 = fixed)."""

    median_seconds: float = 20.0
    sigma: float = 0.5

    @property
    def mean_seconds(self) -> float:
        return self.median_seconds * math.exp(self.sigma**2 / 2)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.sigma <= 0:
            return np.full(n, self.median_seconds)
        return self.median_seconds * rng.lognormal(0.0, self.sigma, n)


@dataclass(frozen=True)
class Scenario:
    """Arrivals per tick of `dt` seconds; after the last tick the run goes on (at most
    `tail_seconds`) until the fleet is idle at min_agents, when `stop_when_idle`."""

    name: str
    arrivals: np.ndarray
    dt: float
    durations: Durations
    description: str = ""
    #: When the burst under study starts and when its last message has arrived (drain time).
    burst: tuple[float, float] | None = None
    failure_rate: float = 0.0
    tail_seconds: float = 6 * 3600.0
    stop_when_idle: bool = True

    @property
    def tasks(self) -> int:
        return int(self.arrivals.sum())

    @property
    def seconds(self) -> float:
        return len(self.arrivals) * self.dt


def _poisson(rate: np.ndarray, dt: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).poisson(np.maximum(rate, 0.0) * dt).astype(np.int64)


def _ramp(t: np.ndarray, start: float, rise: float, hold: float, fall: float) -> np.ndarray:
    """0 -> 1 over `rise` from `start`, 1 for `hold`, 1 -> 0 over `fall`."""
    up = np.clip((t - start) / max(rise, 1e-9), 0, 1)
    down = np.clip((start + rise + hold + fall - t) / max(fall, 1e-9), 0, 1)
    return np.minimum(up, down)


def full_fleet_rate(config: FleetConfig, durations: Durations) -> float:
    """Messages per second the fleet handles at max_agents."""
    return config.scaling.max_agents * config.agent.concurrency / durations.mean_seconds


def steady(config: FleetConfig, durations: Durations, seed: int = 1) -> Scenario:
    dt, hours = 1.0, 2.0
    t = np.arange(int(hours * 3600 / dt)) * dt
    rate = np.full(len(t), 0.5 * full_fleet_rate(config, durations))
    return Scenario(
        "steady",
        _poisson(rate, dt, seed),
        dt,
        durations,
        "2 h of Poisson arrivals at half the full fleet's rate",
    )


def trickle(config: FleetConfig, durations: Durations, seed: int = 1) -> Scenario:
    dt, hours = 1.0, 8.0
    t = np.arange(int(hours * 3600 / dt)) * dt
    rate = np.full(len(t), 1 / 1200)
    return Scenario(
        "trickle",
        _poisson(rate, dt, seed),
        dt,
        durations,
        "8 h, one message every 20 minutes on average: every one starts the fleet from zero",
    )


def daily_spike(config: FleetConfig, durations: Durations, seed: int = 1) -> Scenario:
    dt = 1.0
    t = np.arange(24 * 3600) * dt
    full = full_fleet_rate(config, durations)
    start, rise, hold, fall = 9 * 3600.0, 1800.0, 3.5 * 3600, 1800.0
    rate = full * (0.05 + 0.65 * _ramp(t, start, rise, hold, fall))
    return Scenario(
        "daily-spike",
        _poisson(rate, dt, seed),
        dt,
        durations,
        "24 h at 5% of the full fleet's rate, with a 3.5 h peak at 70% from 09:00 (30 min ramps)",
        burst=(start, start + rise + hold + fall),
    )


def viral_burst(config: FleetConfig, durations: Durations, seed: int = 1) -> Scenario:
    dt = 1.0
    t = np.arange(3 * 3600) * dt
    full = full_fleet_rate(config, durations)
    base = 100 / 3600  # ~100 tasks an hour
    start, rise, hold, fall = 3600.0, 180.0, 900.0, 120.0
    rate = base + 0.9 * full * _ramp(t, start, rise, hold, fall)
    return Scenario(
        "viral-burst",
        _poisson(rate, dt, seed),
        dt,
        durations,
        "~100 tasks an hour, then within 3 minutes 90% of the full fleet's rate for 15 minutes",
        burst=(start, start + rise + hold + fall),
    )


def work_seconds(config: FleetConfig, default: float = 0.2) -> float:
    """The sample agent's work per task, as the local demo reads it from the stack."""
    raw = config.agent.env.get(WORK_SECONDS_ENV)
    return default if raw is None else float(raw)


#: `make demo`'s traffic (agentfleet/local/demo.py: DemoOptions): 3,000 tasks at once after a 2 s
#: lead-in, observed for a 90 s period.
DEMO_TASKS, DEMO_LEAD_IN, DEMO_PERIOD = 3000, 2.0, 90.0
LOCAL_DT = 0.1


def demo(config: FleetConfig, durations: Durations | None = None, seed: int = 1) -> Scenario:
    dt = LOCAL_DT
    arrivals = np.zeros(int((DEMO_LEAD_IN + DEMO_PERIOD) / dt), np.int64)
    # Sent by the demo's tick at 2.0 s, after that tick's scaling decision: the next tick sees it.
    arrivals[int(round(DEMO_LEAD_IN / dt)) + 1] = DEMO_TASKS
    return Scenario(
        "demo",
        arrivals,
        dt,
        Durations(work_seconds(config), 0.0),
        f"make demo: {DEMO_TASKS:,} tasks at once at t={DEMO_LEAD_IN:g} s, a {DEMO_PERIOD:g} s window",
        burst=(DEMO_LEAD_IN, DEMO_LEAD_IN),
        tail_seconds=120.0,
    )


#: The compressed daily spike run on the real local fleet: (lead-in, rise, hold, fall, period) seconds.
LOCAL_SPIKE = (5.0, 10.0, 20.0, 10.0, 90.0)
LOCAL_SPIKE_BASE, LOCAL_SPIKE_PEAK = 0.05, 0.9


def local_spike(config: FleetConfig, durations: Durations | None = None, seed: int = 1) -> Scenario:
    """A day compressed to 90 s: 5% of the full fleet's rate, a 40 s peak at 90%."""
    dt = LOCAL_DT
    lead, rise, hold, fall, period = LOCAL_SPIKE
    d = Durations(work_seconds(config), 0.0)
    t = np.arange(int(period / dt)) * dt
    full = full_fleet_rate(config, d)
    rate = full * (
        LOCAL_SPIKE_BASE + (LOCAL_SPIKE_PEAK - LOCAL_SPIKE_BASE) * _ramp(t, lead, rise, hold, fall)
    )
    arrivals = np.floor(np.cumsum(rate * dt)).astype(np.int64)
    arrivals = np.diff(arrivals, prepend=0)
    return Scenario(
        "local-spike",
        arrivals,
        dt,
        d,
        "a daily spike compressed to 90 s: 5% of the full fleet's rate, 40 s peak at 90%",
        burst=(lead, lead + rise + hold + fall),
        tail_seconds=120.0,
    )


def from_csv(path: Path, durations: Durations) -> Scenario:
    """A trace: `seconds,arrivals` or `minute,arrivals` rows (header optional); minutes are spread
    evenly over their 60 seconds."""
    rows: list[tuple[float, float]] = []
    unit = 1.0
    with path.open(newline="") as f:
        for n, row in enumerate(csv.reader(f)):
            if not row or row[0].startswith("#"):
                continue
            try:
                rows.append((float(row[0]), float(row[1])))
            except (ValueError, IndexError):
                if n == 0:
                    unit = 60.0 if row[0].strip().lower().startswith("minute") else 1.0
                    continue
                raise ConfigError(
                    [ConfigProblem("--trace", f"{path}:{n + 1}", "must be 'time,arrivals' numbers")]
                ) from None
    if not rows:
        raise ConfigError([ConfigProblem("--trace", str(path), "must hold at least one 'time,arrivals' row")])
    end = int(max(r[0] for r in rows) * unit + unit)
    rate = np.zeros(end)
    for at, count in rows:
        first = int(at * unit)
        rate[first : first + int(unit)] += count / unit
    arrivals = np.diff(np.floor(np.cumsum(rate)).astype(np.int64), prepend=0)
    return Scenario(path.stem, arrivals, 1.0, durations, f"trace {path.name}")


BUILT_IN: dict[str, Callable[..., Scenario]] = {
    "viral-burst": viral_burst,
    "daily-spike": daily_spike,
    "steady": steady,
    "trickle": trickle,
    "demo": demo,
    "local-spike": local_spike,
}


def scenario(name: str, config: FleetConfig, durations: Durations, seed: int = 1) -> Scenario:
    if name not in BUILT_IN:
        raise ConfigError([ConfigProblem("--scenario", name, f"must be one of {', '.join(BUILT_IN)}")])
    return BUILT_IN[name](config, durations, seed=seed)


def with_failures(s: Scenario, rate: float) -> Scenario:
    return replace(s, failure_rate=rate)
