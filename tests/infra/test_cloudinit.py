"""The shared cloud-init renderer: valid for cloud-init's own schema, and it runs the agent right."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentfleet.agent import contract
from agentfleet.providers.cloudinit import (
    AGENT_UNIT,
    ENV_FILE,
    HEALTH_SCRIPT,
    HEALTH_UNIT,
    LOGIN_SCRIPT,
    MAY_START_SCRIPT,
    agent_cloud_config,
)
from tests.infra.shell_fakes import run_with_fakes
from tests.peer_check import require_peer

AWS_ENV = {
    contract.BACKEND: "sqs",
    contract.QUEUE: "https://sqs.us-east-1.amazonaws.com/123456789012/moodring-queue",
    contract.DEAD_LETTER_QUEUE: "https://sqs.us-east-1.amazonaws.com/123456789012/moodring-dlq",
    contract.STATE: "moodring-state",
    contract.LIFECYCLE_HOOK: "moodring-drain",
    contract.GROUP: "moodring-agents",
    "LOG_LEVEL": "info",
}
AZURE_ENV = {
    contract.BACKEND: "servicebus",
    contract.QUEUE: "moodring-queue",
    contract.DEAD_LETTER_QUEUE: "",
    contract.SERVICEBUS_NAMESPACE: "moodring-sb.servicebus.windows.net",
    contract.STATE: "https://moodringst.table.core.windows.net/state",
    "GREETING": "hello: world # not a comment",
}


def render(env: dict[str, str], lifecycle: str, **kw: Any) -> str:
    return agent_cloud_config(
        image="ghcr.io/acme/moodring-agent:1.4.2",
        env=env,
        port=8080,
        drain_timeout_seconds=120,
        lifecycle=lifecycle,
        **kw,
    )


def files(document: str) -> dict[str, dict[str, Any]]:
    assert document.startswith("#cloud-config\n")
    return {f["path"]: f for f in yaml.safe_load(document)["write_files"]}


@pytest.mark.peer
@pytest.mark.parametrize(
    ("env", "lifecycle", "extra"),
    [
        (
            AWS_ENV,
            "aws-asg",
            {
                "on_unhealthy": "aws autoscaling set-instance-health --health-status Unhealthy",
                "log_driver": "awslogs",
                "log_options": {"awslogs-group": "/agentfleet/moodring"},
                "registry_login": "aws ecr get-login-password | docker login --password-stdin r.example",
                "being_removed": 'test "$(cat /run/lifecycle-state)" = Terminated',
            },
        ),
        (AZURE_ENV, "azure-scheduled-events", {}),
    ],
    ids=["aws", "azure"],
)
def test_document_passes_cloud_init_schema(
    tmp_path: Path, env: dict[str, str], lifecycle: str, extra: dict[str, Any]
) -> None:
    require_peer(shutil.which("cloud-init") is not None, "cloud-init")
    path = tmp_path / "user-data.yaml"
    path.write_text(render(env, lifecycle, **extra))
    result = subprocess.run(
        ["cloud-init", "schema", "-c", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid cloud-config" in result.stdout


def test_env_file_is_root_only_and_carries_every_variable_literally() -> None:
    env_file = files(render(AZURE_ENV, "azure-scheduled-events"))[ENV_FILE]
    assert env_file["permissions"] == "0600"
    assert env_file["owner"] == "root:root"
    lines = env_file["content"].splitlines()
    parsed = dict(line.split("=", 1) for line in lines)
    assert parsed == {**AZURE_ENV, contract.LIFECYCLE: "azure-scheduled-events"}


def unit_settings(unit: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in unit.splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_unit_restarts_maps_port_and_gives_the_agent_its_drain_time() -> None:
    unit = files(render(AWS_ENV, "aws-asg"))[f"/etc/systemd/system/{AGENT_UNIT}"]["content"]
    assert unit_settings(unit)["Restart"] == ["on-failure"]
    assert "--publish 8080:8080" in unit
    assert f"--env-file {ENV_FILE}" in unit
    assert "ExecStop=/usr/bin/docker stop --time 120 agentfleet-agent" in unit
    stop = int(next(line for line in unit.splitlines() if line.startswith("TimeoutStopSec=")).split("=")[1])
    assert stop > 120, "systemd must not kill the container before its drain timeout"
    assert unit.rstrip().endswith("WantedBy=multi-user.target")


def test_a_drained_agent_stays_down_and_a_crashed_one_restarts() -> None:
    # The runtime exits 0 after a clean drain: Restart=always brought it back about 5 s after it
    # completed the lifecycle action, on the machine being removed, where it leased messages.
    doc = files(render(AZURE_ENV, "azure-scheduled-events"))
    agent = unit_settings(doc[f"/etc/systemd/system/{AGENT_UNIT}"]["content"])
    watcher = unit_settings(doc[f"/etc/systemd/system/{HEALTH_UNIT}"]["content"])
    assert agent["Restart"] == ["on-failure"]  # restarts a non-zero exit, a signal, a timeout
    assert watcher["Restart"] == ["on-failure"]  # the watcher exits 0 once the agent drained
    assert "ExecCondition" not in agent  # no removal check given: nothing to skip on


def test_a_start_on_a_machine_being_removed_is_skipped() -> None:
    doc = files(render(AWS_ENV, "aws-asg", being_removed="check-the-cloud --removing"))
    agent = unit_settings(doc[f"/etc/systemd/system/{AGENT_UNIT}"]["content"])
    assert agent["ExecCondition"] == [MAY_START_SCRIPT]
    script = doc[MAY_START_SCRIPT]
    assert script["permissions"] == "0755"
    assert "check-the-cloud --removing" in script["content"]


@pytest.mark.peer
def test_rendered_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """systemd itself parses the units: an unknown key or a bad value is a warning on stderr."""
    require_peer(shutil.which("systemd-analyze") is not None, "systemd-analyze")
    root = tmp_path / "root"
    units = root / "etc/systemd/system"
    units.mkdir(parents=True)
    doc = render(AWS_ENV, "aws-asg", being_removed="false", registry_login="true", on_unhealthy="true")
    for path, entry in files(doc).items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(entry["content"])
        target.chmod(int(entry["permissions"], 8))
    docker = root / "usr/bin/docker"
    docker.parent.mkdir(parents=True)
    docker.write_text("#!/bin/sh\n")
    docker.chmod(0o755)
    (units / "docker.service").write_text("[Service]\nExecStart=/usr/bin/docker\n")
    targets = root / "usr/lib/systemd/system"
    targets.mkdir(parents=True)
    for target in Path("/lib/systemd/system").glob("*.target"):
        shutil.copy(target, targets / target.name)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", f"--root={root}",
         f"/etc/systemd/system/{AGENT_UNIT}", f"/etc/systemd/system/{HEALTH_UNIT}"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_drain_timeout_flows_into_the_stop_command() -> None:
    doc = agent_cloud_config(image="img:1", env={}, port=9000, drain_timeout_seconds=7, lifecycle="none")
    unit = files(doc)[f"/etc/systemd/system/{AGENT_UNIT}"]["content"]
    assert "docker stop --time 7 " in unit
    assert "--stop-timeout 7 " in unit
    assert "--publish 9000:9000" in unit


def test_unhealthy_agent_runs_the_callers_action_after_warmup() -> None:
    doc = render(AWS_ENV, "aws-asg", on_unhealthy="mark-me-unhealthy --now", health_grace_seconds=45)
    script = files(doc)[HEALTH_SCRIPT]["content"]
    assert "http://127.0.0.1:8080/healthz" in script
    assert "mark-me-unhealthy --now" in script
    assert "sleep 45" in script  # the warm-up (its behaviour: test_watcher_* below)


def test_default_unhealthy_action_restarts_the_agent() -> None:
    script = files(render(AZURE_ENV, "azure-scheduled-events"))[HEALTH_SCRIPT]["content"]
    assert f"systemctl restart {AGENT_UNIT}" in script


def test_units_are_started_after_docker_is_installed() -> None:
    runcmd = yaml.safe_load(render(AWS_ENV, "aws-asg"))["runcmd"]
    flat = [" ".join(c) for c in runcmd]
    assert flat.index("/usr/local/bin/agentfleet-install-docker") < flat.index(
        f"systemctl enable --now {AGENT_UNIT}"
    )


def test_log_driver_options_reach_docker_run() -> None:
    doc = render(
        AWS_ENV, "aws-asg", log_driver="awslogs", log_options={"awslogs-group": "/agentfleet/moodring"}
    )
    unit = files(doc)[f"/etc/systemd/system/{AGENT_UNIT}"]["content"]
    assert "--log-driver awslogs --log-opt awslogs-group=/agentfleet/moodring" in unit


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"env": {"A": "two\nlines"}}, "env['A'] must be one line"),
        ({"env": {"A": 1}}, "env['A'] must be a plain string (resolve Outputs first), got int"),
        ({"lifecycle": "gcp"}, "lifecycle='gcp' must be one of aws-asg, azure-scheduled-events, none"),
        ({"image": "bad image"}, "image='bad image' must be a container image reference without spaces"),
        ({"drain_timeout_seconds": 0}, "drain_timeout_seconds=0 must be >= 1"),
    ],
)
def test_bad_arguments_are_rejected_with_the_argument_named(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {
        "image": "img:1",
        "env": {},
        "port": 8080,
        "drain_timeout_seconds": 60,
        "lifecycle": "none",
        **kwargs,
    }
    with pytest.raises(ValueError) as err:
        agent_cloud_config(**args)
    assert message in str(err.value)


def test_registry_login_runs_as_a_root_only_script_before_every_start() -> None:
    doc = render(AZURE_ENV, "azure-scheduled-events", registry_login="login-to-registry --quietly")
    login = files(doc)[LOGIN_SCRIPT]
    assert login["permissions"] == "0700"
    assert login["content"].rstrip().endswith("login-to-registry --quietly")
    unit = files(doc)[f"/etc/systemd/system/{AGENT_UNIT}"]["content"]
    assert unit.index(f"ExecStartPre={LOGIN_SCRIPT}") < unit.index("ExecStart=")


def test_no_login_script_without_a_registry_login() -> None:
    doc = render(AZURE_ENV, "azure-scheduled-events")
    assert LOGIN_SCRIPT not in files(doc)
    assert LOGIN_SCRIPT not in files(doc)[f"/etc/systemd/system/{AGENT_UNIT}"]["content"]


# The health watcher, run for real by /bin/sh with docker, curl and sleep replaced by fakes on PATH.


def run_watcher(
    tmp_path: Path, *, running: bool, healthz: list[bool], agent_unit: tuple[str, str] = ("active", "success")
) -> tuple[list[str], str]:
    """Run the rendered watcher until it acts (or stops); return the commands it ran and what it
    reported. `agent_unit` is the agent unit's (ActiveState, Result) as `systemctl show` gives them."""
    log = tmp_path / "calls.log"
    answers = tmp_path / "healthz"
    answers.write_text("".join("0\n" if ok else "22\n" for ok in healthz) + "22\n" * 100)
    fakes = {
        "docker": f'echo "docker $*" >> {log}; echo {"true" if running else "false"}',
        # Each probe takes the next scripted answer (exit 0 = healthy, 22 = curl's HTTP error).
        "curl": f'echo "curl $*" >> {log}; code=$(head -n1 {answers}); sed -i 1d {answers}; exit "$code"',
        "sleep": f'echo "sleep $*" >> {log}',
        "systemctl": (
            f'case "$*" in *ActiveState*) echo {agent_unit[0]} ;; *Result*) echo {agent_unit[1]} ;; '
            f'*) echo "systemctl $*" >> {log} ;; esac'
        ),
    }
    doc = agent_cloud_config(
        image="img:1",
        env={},
        port=8123,
        drain_timeout_seconds=60,
        lifecycle="none",
        health_grace_seconds=45,
        on_unhealthy=f"echo acted >> {log}; exit 0",
    )
    result = run_with_fakes(tmp_path, files(doc)[HEALTH_SCRIPT]["content"], fakes)
    assert result.returncode == 0, result.stderr
    return log.read_text().splitlines(), result.stderr


def test_watcher_acts_after_three_failed_probes_once_warm(tmp_path: Path) -> None:
    calls, reported = run_watcher(tmp_path, running=True, healthz=[])
    probes = [c for c in calls if c.startswith("curl")]
    assert len(probes) == 3
    assert all("http://127.0.0.1:8123/healthz" in p for p in probes)
    assert calls.index("sleep 45") < calls.index(probes[0])  # warm-up before the first probe
    assert calls[-1] == "acted"
    assert "/healthz failed 3 times in a row; marking this agent unhealthy" in reported


def test_watcher_failures_must_be_consecutive(tmp_path: Path) -> None:
    calls, _ = run_watcher(tmp_path, running=True, healthz=[False, False, True, False, False, True])
    assert len([c for c in calls if c.startswith("curl")]) == 6 + 3


def test_watcher_acts_when_the_container_never_starts(tmp_path: Path) -> None:
    calls, reported = run_watcher(tmp_path, running=False, healthz=[])
    assert not [c for c in calls if c.startswith("curl")]
    assert calls[-1] == "acted"
    assert "the agent container is not running after 900 s" in reported


@pytest.mark.parametrize("result", ["success", "exec-condition"])
def test_watcher_stops_once_the_agent_has_drained_instead_of_restarting_it(
    tmp_path: Path, result: str
) -> None:
    # Drained (exit 0) or not started on a machine being removed: acting would restart the agent.
    calls, reported = run_watcher(tmp_path, running=False, healthz=[], agent_unit=("inactive", result))
    assert "acted" not in calls
    assert "the agent has drained and exited; stopped watching it" in reported


def test_watcher_still_acts_on_an_agent_that_crashed(tmp_path: Path) -> None:
    calls, _ = run_watcher(tmp_path, running=True, healthz=[], agent_unit=("activating", "exit-code"))
    assert calls[-1] == "acted"
