"""The local fleet reads the clouds' config and hands agents the same env contract, on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agentfleet.agent import contract
from agentfleet.agent.settings import Settings
from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.problems import ConfigError
from agentfleet.local.demo import demo_config, work_seconds_of
from agentfleet.local.report import DemoReport
from agentfleet.local.stack import LocalPaths, load_fleet, local_environment, stack_file
from tests.local.helpers import TINY_FLEET, tiny_config


def test_stack_name_finds_pulumi_stack_files_then_local_only_stacks(tmp_path: Path) -> None:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "dev.yaml").write_text("config: {}")
    assert stack_file("dev", [tmp_path]) == tmp_path / "stacks" / "dev.yaml"
    (tmp_path / "Pulumi.dev.yaml").write_text("config: {}")
    assert stack_file("dev", [tmp_path]) == tmp_path / "Pulumi.dev.yaml"
    with pytest.raises(ConfigError, match=r"stack='prod' has no config file; looked for .*Pulumi\.prod\."):
        stack_file("prod", [tmp_path])


def test_the_repository_dev_stack_loads_for_the_local_fleet() -> None:
    config = load_fleet("dev", None)
    assert config.name == "moodring" and config.scaling.max_agents >= 1


def test_a_file_without_the_fleet_key_is_refused_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump({"config": {"agentfleet:cloud": "aws"}}))
    with pytest.raises(ConfigError, match="must have config: agentfleet:fleet"):
        load_fleet(None, path)


def test_agents_get_the_config_numbers_sqlite_files_and_their_own_port(tmp_path: Path) -> None:
    config = tiny_config(
        agent={"concurrency": 7, "drain_timeout_seconds": 9}, queue={"visibility_timeout_seconds": 11}
    )
    paths = LocalPaths(tmp_path / "f")
    env = local_environment(config, paths, 43210, None)
    settings = Settings.from_env(env)  # the runtime's own reader accepts it
    assert (settings.backend, settings.queue, settings.state, settings.bucket) == (
        "sqlite",
        str((tmp_path / "f" / "queue.db").resolve()),
        str((tmp_path / "f" / "state.db").resolve()),
        str((tmp_path / "f" / "bucket").resolve()),
    )
    assert (settings.concurrency, settings.drain_timeout, settings.visibility_timeout) == (7, 9, 11)
    assert (settings.port, settings.warmup, settings.lifecycle) == (43210, 1, "none")
    assert settings.handler == TINY_FLEET["agent"]["handler"]
    assert env["INVENTORY_WORK_SECONDS"] == "0.05"  # fleet.agent.env passes through
    assert local_environment(config, paths, 1, "mymod:fn")[contract.HANDLER] == "mymod:fn"


def test_a_fleet_without_a_handler_is_refused_before_any_agent_starts(tmp_path: Path) -> None:
    config = tiny_config(agent={"handler": None})
    with pytest.raises(ConfigError, match=r"fleet.agent.handler.*--handler"):
        local_environment(config, LocalPaths(tmp_path), 1, None)


def test_the_demo_stack_can_meet_both_elasticity_targets_on_paper() -> None:
    """The demo's numbers leave room: the burst's work dominates start-up, and the period is long
    enough that a fleet following the backlog uses well under half of always-on."""
    config = demo_config()
    policy = ScalingPolicy.from_config(config)
    work = work_seconds_of(config)
    ideal = 3000 * work / (policy.max_agents * policy.concurrency) + policy.warmup_seconds
    assert 20 <= ideal <= 40
    # At max from the spike until drained + cooldown + a 5 s drain, over a 90 s period:
    busy = policy.max_agents * (ideal + policy.scale_in_cooldown_seconds + 5)
    assert busy / (policy.max_agents * 92) < 0.5
    assert policy.scales_to_zero


def test_report_ratios_follow_the_issue_definitions() -> None:
    r = DemoReport(
        tasks=3000, done=3000, lost=0, duplicate_effects=0, inconsistent_records=0, dead_lettered=0,
        max_agents=6, concurrency=8, work_seconds=0.4, warmup_seconds=3, drain_seconds=30.0,
        window_seconds=100.0, agent_seconds=240.0, peak_agents=6, agents_started=6,
        agents_killed_by_chaos=0, chaos=False,
    )  # fmt: skip
    assert r.ideal_drain_seconds == pytest.approx(3000 * 0.4 / 48 + 3)
    assert r.drain_ratio == pytest.approx(30 / 28)
    assert r.agent_seconds_ratio == pytest.approx(240 / 600)
    assert r.violations() == []
    assert DemoReport(**{**r.__dict__, "lost": 2, "duplicate_effects": 1}).violations() == [
        "2 tasks lost (must be 0)",
        "1 duplicate effects (must be 0)",
    ]


def test_the_live_view_shows_backlog_agents_by_state_throughput_and_dead_letters() -> None:
    from rich.console import Console

    from agentfleet.local.autoscaler import Sample
    from agentfleet.local.progress import render

    sample = Sample(
        t=12.5, waiting=1800, in_flight=48, dead_lettered=3, warming=1, ready=4, draining=1, desired=6,
        processed=1152,
    )  # fmt: skip
    console = Console(width=80, record=True)
    console.print(render(sample, name="inventory-demo", max_agents=6, throughput=121.3, peak_backlog=3000))
    text = console.export_text()
    for expected in ("1,800 waiting · 48 in flight", "4 ready · 1 warming · 1 draining", "6 agents",
                     "121.3 msg/s", "1,152 done", "dead letters  3"):  # fmt: skip
        assert expected in text, (expected, text)


def test_a_fleets_file_runs_the_fleet_named_with_fleet_or_its_only_one(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    fleets = [
        {"name": "orders", "agent": {"image": "ghcr.io/acme/orders:1.0", "handler": "m:f"}},
        {
            "name": "emails",
            "agent": {"image": "ghcr.io/acme/emails:1.0", "handler": "m:f"},
            "scaling": {"max_agents": 3},
        },
    ]
    path.write_text(yaml.safe_dump({"config": {"agentfleet:cloud": "aws", "agentfleet:fleets": fleets}}))
    assert load_fleet(None, path, "emails").scaling.max_agents == 3
    with pytest.raises(ConfigError) as err:
        load_fleet(None, path)
    assert str(err.value) == f"agentfleet: --fleet must name one of the 2 fleets in {path} (orders, emails)"
    with pytest.raises(ConfigError, match=r"--fleet='billing' is not in .* \(its fleets: orders, emails\)"):
        load_fleet(None, path, "billing")
    path.write_text(yaml.safe_dump({"config": {"agentfleet:fleets": fleets[:1]}}))
    assert load_fleet(None, path).name == "orders"


def test_local_agents_get_plain_secrets_and_take_unreadable_ones_from_the_operators_environment(
    tmp_path: Path,
) -> None:
    from agentfleet.local.stack import local_secrets

    config = tiny_config(
        agent={
            "secrets": {
                "PLAIN": "local-value",
                "REF": {"ref": "projects/p/secrets/s"},
                "ENC": {"secure": "v1:x"},
            }
        }
    )
    assert local_secrets(config, {"REF": "from-shell", "ENC": "also"}) == {
        "PLAIN": "local-value",
        "REF": "from-shell",
        "ENC": "also",
    }
    with pytest.raises(ConfigError) as err:
        local_secrets(config, {})
    assert str(err.value).splitlines() == [
        "agentfleet: fleet.agent.secrets.REF is a reference to a cloud secret store, which the local fleet "
        "cannot read: export REF=... in the shell that runs agentfleet local",
        "agentfleet: fleet.agent.secrets.ENC is encrypted, which the local fleet cannot read: export ENC=... "
        "in the shell that runs agentfleet local",
    ]
