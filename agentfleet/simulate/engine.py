"""The fleet itself, tick by tick: a queue, agents with slots, and a target's autoscaling model.

Time advances in fixed ticks of `Scenario.dt` seconds. Each tick:

1. agents move on in their lifecycle (provisioning -> warming -> ready; draining -> exiting -> gone);
2. finished messages free their slots (a failed one comes back when its lease expires, and is
   dead-lettered after `max_receive_count` deliveries);
3. messages whose lease expired (failed, or held by a killed agent) become visible again;
4. the scenario's arrivals join the queue;
5. free slots of running agents (warming or ready, not draining) take messages, oldest first;
6. the model sees the fleet and sets the capacity; the simulator starts agents or picks
   scale-in victims (idle ones first; busy ones only where the target does not protect them);
7. the tick is recorded.

Agents live in numpy arrays (one row per agent, one column per concurrency slot), so a tick costs
a handful of vector operations whatever the fleet size. A slot that frees up inside a tick starts
its next message at the moment it freed (not at the tick boundary), so short ticks are not needed
for accuracy when messages take several ticks.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from agentfleet.agent.worker import adaptive_prefetch
from agentfleet.components.schema import FleetConfig
from agentfleet.components.simulation import AutoscalerModel, FleetView
from agentfleet.simulate.scenarios import Scenario

FREE, PROVISIONING, WARMING, READY, DRAINING, EXITING = range(6)
INF = math.inf


@dataclass
class Run:
    """What happened: one row per tick, plus the totals the metrics need."""

    scenario: Scenario
    max_agents: int
    #: The fewest agents the fleet kept: min_agents, or the target's `fewest_agents` if higher.
    min_agents: int
    concurrency: int
    t: np.ndarray
    arrivals: np.ndarray
    waiting: np.ndarray
    in_flight: np.ndarray
    provisioning: np.ndarray
    warming: np.ndarray
    ready: np.ndarray
    draining: np.ndarray
    capacity: np.ndarray
    #: Queue wait (arrival -> an agent takes it), per delivery: histogram in bins of `age_bin` s.
    age_hist: np.ndarray
    age_bin: float
    age_max: float
    agent_seconds: float
    work_seconds: float
    completed: int
    dead_lettered: int
    agents_started: int
    interrupted_agents: int
    interrupted_messages: int
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def running(self) -> np.ndarray:
        return self.warming + self.ready

    @property
    def agents(self) -> np.ndarray:
        return self.provisioning + self.warming + self.ready + self.draining

    @property
    def backlog(self) -> np.ndarray:
        return self.waiting + self.in_flight

    @property
    def duration(self) -> float:
        return float(self.t[-1] + self.scenario.dt) if len(self.t) else 0.0


class _Agents:
    """Agent rows. Rows are reused once an agent is gone; `hi` bounds the rows in use."""

    def __init__(self, concurrency: int, size: int = 64) -> None:
        self.c = concurrency
        self.hi = 0
        self._alloc(size)

    def _alloc(self, size: int) -> None:
        self.state = np.zeros(size, np.int8)
        self.t_next = np.full(size, INF)
        self.born = np.zeros(size)
        self.busy = np.zeros(size, np.int32)
        #: When the agent's last message ended (-inf: none yet), for the protection's idle grace.
        self.last_done = np.full(size, -INF)
        self.finish = np.full((size, self.c), INF)
        self.free_at = np.zeros((size, self.c))
        self.arrival = np.zeros((size, self.c))
        self.started = np.zeros((size, self.c))
        self.deliveries = np.zeros((size, self.c), np.int32)
        self.fails = np.zeros((size, self.c), bool)

    def grow(self, need: int) -> None:
        size = len(self.state)
        if need <= size:
            return
        new = max(need, 2 * size)
        old = {
            k: getattr(self, k)
            for k in (
                "state",
                "t_next",
                "born",
                "busy",
                "last_done",
                "finish",
                "free_at",
                "arrival",
                "started",
                "deliveries",
                "fails",
            )
        }
        self._alloc(new)
        for k, v in old.items():
            getattr(self, k)[:size] = v

    def take_rows(self, n: int) -> np.ndarray:
        """`n` free rows, reusing gone agents' rows first."""
        free = np.flatnonzero(self.state[: self.hi] == FREE)[:n]
        extra = n - len(free)
        if extra:
            self.grow(self.hi + extra)
            free = np.concatenate([free, np.arange(self.hi, self.hi + extra)])
            self.hi += extra
        return free


def simulate(config: FleetConfig, model: AutoscalerModel, scenario: Scenario, seed: int = 1) -> Run:
    """Replay `scenario` against `model` for the fleet `config`.

    The runtime leases up to `prefetch` messages more than it runs, while every handler is busy;
    the queue then counts them in flight. They are the next messages its slots take, so the
    simulator keeps them in the queue's order and moves them to `in_flight` only in what the
    model sees (`FleetView`) and what is recorded.
    """
    rng = np.random.default_rng(seed)
    life = model.lifecycle
    s = config.scaling
    c = config.agent.concurrency
    # The fewest agents the fleet has: min_agents, or more where the target keeps more.
    floor = max(s.min_agents, life.fewest_agents)
    dt = scenario.dt
    max_receive = config.queue.max_receive_count
    ag = _Agents(c, size=max(16, min(s.max_agents, 4096)))
    queue: deque[list[float]] = deque()  # [arrival time, count, deliveries]
    waiting = 0
    leased_lost = 0  # leases held by killed agents or failed messages, until they expire
    redeliver: list[tuple[float, int, float, int]] = []  # heap of (due, seq, arrival, deliveries)
    seq = 0
    n_ticks = len(scenario.arrivals)
    limit = n_ticks + int(scenario.tail_seconds / dt)
    cols = {
        k: np.zeros(limit, np.int64)
        for k in (
            "arrivals",
            "waiting",
            "in_flight",
            "provisioning",
            "warming",
            "ready",
            "draining",
            "capacity",
        )
    }
    age_bin = max(dt, 1.0)
    age_hist = np.zeros(int(limit * dt / age_bin) + 2, np.int64)
    age_max = 0.0
    capacity = floor
    billed = 0.0
    work = 0.0
    completed = dead = started_agents = interrupted_agents = interrupted_messages = 0
    next_finish = INF
    overhead = life.message_overhead_seconds
    dur = scenario.durations
    held_per_agent = adaptive_prefetch(c, dur.mean_seconds + overhead)
    i = 0
    for i in range(limit):
        t = i * dt
        hi = ag.hi
        state = ag.state[:hi]
        # 1. lifecycle
        if hi:
            due = ag.t_next[:hi] <= t
            if due.any():
                boot = due & (state == PROVISIONING)
                if boot.any():
                    rows = np.flatnonzero(boot)
                    ag.free_at[rows] = ag.t_next[rows, None]
                    state[rows] = WARMING
                    ag.t_next[rows] = ag.t_next[rows] + life.warmup_seconds
                    due[rows] = ag.t_next[rows] <= t
                warm = due & (state == WARMING)
                state[warm] = READY
                ag.t_next[:hi][warm] = INF
                gone = due & (state == EXITING)
                if gone.any():
                    billed += float(np.sum(ag.t_next[:hi][gone] - ag.born[:hi][gone]))
                    state[gone] = FREE
                    ag.t_next[:hi][gone] = INF
        # 2. completions
        if next_finish <= t:
            fin = ag.finish[:hi]
            done = fin <= t
            rows, slots = np.nonzero(done)
            ends = fin[rows, slots]
            failed = ag.fails[rows, slots]
            work += float(np.sum(ends - ag.started[rows, slots]))
            completed += int(len(rows) - failed.sum())
            if failed.any():
                for r, k in zip(rows[failed], slots[failed], strict=True):
                    d = int(ag.deliveries[r, k])
                    if d >= max_receive:
                        dead += 1
                        continue
                    due_at = float(ag.started[r, k]) + life.lease_seconds
                    heapq.heappush(redeliver, (due_at, seq, float(ag.arrival[r, k]), d))
                    seq += 1
                    leased_lost += 1
            ag.free_at[rows, slots] = ends
            np.maximum.at(ag.last_done, rows, ends)
            fin[rows, slots] = INF
            ag.busy[:hi] -= np.bincount(rows, minlength=hi).astype(np.int32)
            next_finish = float(fin.min()) if hi else INF
        # 3. leases that expired
        while redeliver and redeliver[0][0] <= t:
            _, _, arrived, d = heapq.heappop(redeliver)
            queue.append([arrived, 1, d])
            waiting += 1
            leased_lost -= 1
        # 4. arrivals
        if i < n_ticks:
            n = int(scenario.arrivals[i])
            if n:
                queue.append([t, n, 0])
                waiting += n
                cols["arrivals"][i] = n
        # 5. free slots take messages
        if waiting and hi:
            running = (state == WARMING) | (state == READY)
            if running.any():
                free = np.isinf(ag.finish[:hi]) & running[:, None]
                flat = np.flatnonzero(free)
                k = min(waiting, len(flat))
                if k:
                    idx = flat[:k]
                    arr = np.empty(k)
                    dlv = np.empty(k, np.int32)
                    got = 0
                    while got < k:
                        head = queue[0]
                        take = min(int(head[1]), k - got)
                        arr[got : got + take] = head[0]
                        dlv[got : got + take] = head[2]
                        got += take
                        if take == head[1]:
                            queue.popleft()
                        else:
                            head[1] -= take
                    waiting -= k
                    start = np.maximum(np.maximum(ag.free_at.flat[idx], arr), t - dt)
                    start = np.minimum(start, t)
                    ages = start - arr
                    np.add.at(age_hist, (ages / age_bin).astype(np.int64), 1)
                    age_max = max(age_max, float(ages.max()))
                    took = dur.sample(rng, k) + overhead
                    ag.finish.flat[idx] = start + took
                    ag.started.flat[idx] = start
                    ag.arrival.flat[idx] = arr
                    ag.deliveries.flat[idx] = dlv + 1
                    ag.fails.flat[idx] = (
                        (rng.random(k) < scenario.failure_rate) if scenario.failure_rate else False
                    )
                    ag.busy[:hi] += np.bincount(idx // c, minlength=hi).astype(np.int32)
                    next_finish = min(next_finish, float((start + took).min()))
        # 6. the model decides; the simulator reconciles
        counts = np.bincount(state, minlength=6) if hi else np.zeros(6, np.int64)
        held = min(waiting, held_per_agent * int(counts[WARMING] + counts[READY]))
        in_flight = int(ag.busy[:hi].sum()) + leased_lost + held
        view = FleetView(
            t=t,
            capacity=capacity,
            provisioning=int(counts[PROVISIONING]),
            warming=int(counts[WARMING]),
            ready=int(counts[READY]),
            draining=int(counts[DRAINING] + counts[EXITING]),
            waiting=waiting - held,
            in_flight=in_flight,
        )
        capacity = max(floor, min(s.max_agents, int(model.step(view))))
        active = view.active
        if capacity > active:
            n = capacity - active
            rows = ag.take_rows(n)
            state = ag.state[: ag.hi]
            hi = ag.hi
            ag.state[rows] = PROVISIONING
            ag.born[rows] = t
            ag.t_next[rows] = t + model.boot_seconds(view, rng, n)
            ag.busy[rows] = 0
            ag.last_done[rows] = -INF
            ag.finish[rows] = INF
            started_agents += n
        elif capacity < active:
            surplus = active - capacity
            born = ag.born[:hi]
            busy = ag.busy[:hi]
            # Idle, and past the protection's idle grace since its last message.
            idle = (busy == 0) & (t - ag.last_done[:hi] >= life.protection_idle_grace_seconds)
            for group in (
                state == PROVISIONING,
                (state == WARMING) & idle,
                (state == READY) & idle,
                ((state == WARMING) | (state == READY)) & ~idle if not life.protects_busy_agents else None,
            ):
                if surplus <= 0 or group is None:
                    continue
                rows = np.flatnonzero(group)
                if not len(rows):
                    continue
                rows = rows[np.argsort(-born[rows], kind="stable")][:surplus]
                surplus -= len(rows)
                prov = state[rows] == PROVISIONING
                if prov.any():  # never booted: cancelled, billed until now
                    billed += float(np.sum(t - born[rows[prov]]))
                    state[rows[prov]] = FREE
                    ag.t_next[rows[prov]] = INF
                rest = rows[~prov]
                interrupted_agents += int(np.count_nonzero(busy[rest]))
                state[rest] = DRAINING
                ag.t_next[rest] = t + life.drain_timeout_seconds
        # draining agents: idle ones exit; ones past their drain timeout are killed
        if hi:
            draining = state == DRAINING
            if draining.any():
                idle = draining & (ag.busy[:hi] == 0)
                late = draining & (ag.busy[:hi] > 0) & (ag.t_next[:hi] <= t)
                if late.any():
                    for r in np.flatnonzero(late):
                        for k in np.flatnonzero(np.isfinite(ag.finish[r])):
                            due_at = max(t, float(ag.started[r, k]) + life.lease_seconds)
                            heapq.heappush(
                                redeliver, (due_at, seq, float(ag.arrival[r, k]), int(ag.deliveries[r, k]))
                            )
                            seq += 1
                            leased_lost += 1
                            interrupted_messages += 1
                        ag.finish[r] = INF
                        ag.busy[r] = 0
                    idle = idle | late
                state[idle] = EXITING
                ag.t_next[:hi][idle] = t + life.exit_seconds
            while ag.hi and ag.state[ag.hi - 1] == FREE:
                ag.hi -= 1
        # 7. record
        cols["waiting"][i] = view.waiting
        cols["in_flight"][i] = in_flight
        cols["provisioning"][i] = view.provisioning
        cols["warming"][i] = view.warming
        cols["ready"][i] = view.ready
        cols["draining"][i] = view.draining
        cols["capacity"][i] = capacity
        if i >= n_ticks and scenario.stop_when_idle and _idle(view, capacity, floor):
            break
    n = i + 1
    end = n * dt
    # Messages never taken count with the age they reached: a policy that never starts an agent
    # must not look like one with no wait at all.
    for arrived, count, _ in queue:
        age = end - arrived
        age_hist[min(len(age_hist) - 1, int(age / age_bin))] += int(count)
        age_max = max(age_max, age)
    hi = ag.hi
    live = ag.state[:hi] != FREE
    billed += float(np.sum(np.maximum(0.0, end - ag.born[:hi][live])))
    return Run(
        scenario=scenario,
        max_agents=s.max_agents,
        min_agents=floor,
        concurrency=c,
        t=np.arange(n) * dt,
        **{k: v[:n] for k, v in cols.items()},
        age_hist=age_hist,
        age_bin=age_bin,
        age_max=age_max,
        agent_seconds=billed,
        work_seconds=work,
        completed=completed,
        dead_lettered=dead,
        agents_started=started_agents,
        interrupted_agents=interrupted_agents,
        interrupted_messages=interrupted_messages,
        extra=model.extra(),
    )


def _idle(view: FleetView, capacity: int, min_agents: int) -> bool:
    return (
        view.waiting == 0
        and view.in_flight == 0
        and view.draining == 0
        and view.provisioning == 0
        and view.active == min_agents
        and capacity == min_agents
    )
