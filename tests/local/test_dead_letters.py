"""A task the sample agent cannot process is dead-lettered at once with its reason, not retried."""

from __future__ import annotations

import pytest

from agentfleet.local import sample_agent
from agentfleet.local.autoscaler import AutoscalerLoop
from agentfleet.local.stack import LocalPaths
from agentfleet.local.store import open_local_bucket, open_local_state, open_queue
from agentfleet.local.supervisor import Supervisor
from tests.local.helpers import tiny_config

pytestmark = pytest.mark.slow


def test_malformed_tasks_are_dead_lettered_with_their_reason_and_the_rest_done(paths: LocalPaths) -> None:
    config = tiny_config(scaling={"max_agents": 1, "warmup_seconds": 0})
    queue, state, bucket = (
        open_queue(config, paths),
        open_local_state(config, paths),
        open_local_bucket(config, paths),
    )
    tasks = sample_agent.make_tasks(bucket, 5)
    missing_file = b'{"task": "t999999", "vendor": "v001", "file": "vendors/v001/nope.csv"}'
    queue.send_many([*(t.body() for t in tasks), b'{"sku": "not a task"}', missing_file])
    supervisor = Supervisor(config, paths)
    loop = AutoscalerLoop(supervisor, queue.stats, interval=0.2)
    try:
        assert loop.run(lambda s: s.backlog == 0 and s.dead_lettered == 2, timeout=30)
    finally:
        supervisor.stop_all()
    dead = {d.body: d for d in queue.dead_letters()}
    assert set(dead) == {b'{"sku": "not a task"}', missing_file}
    assert "not an inventory task" in dead[b'{"sku": "not a task"}'].reason
    assert "vendors/v001/nope.csv' is not in the bucket" in dead[missing_file].reason
    assert {d.delivery_count for d in dead.values()} == {1}  # at once: no retries
    audit = sample_agent.audit_effects(state, tasks)
    assert (audit.done, audit.duplicates) == (5, 0)
