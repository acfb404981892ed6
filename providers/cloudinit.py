"""The cloud-init document that turns a plain VM into one agent: shared by AWS and Azure.

Both clouds boot a stock Linux image and hand it this `#cloud-config`. It

1. installs Docker with the distribution's own package manager (Amazon Linux: `docker`,
   Debian/Ubuntu: `docker.io`), so one document works on either image;
2. writes the agent's environment to `/etc/agentfleet/agent.env`, mode 0600 owned by root: the
   file names queues, tables and buckets, and is not for every local user to read;
3. installs `agentfleet-agent.service`, a systemd unit that runs the container, maps the agent's
   port on the host, and stops it with `docker stop --time <drain>`: the agent gets SIGTERM and
   `drain_timeout_seconds` to finish its in-flight work; systemd's `TimeoutStopSec` covers that
   drain plus a margin, so systemd never SIGKILLs a draining agent first. A drained agent stays
   down: the runtime exits 0 after a clean drain and the unit restarts only failures
   (`Restart=on-failure`), and with `being_removed` (AWS: the lifecycle state in IMDS) a start on
   a machine being removed is skipped (`ExecCondition=`), so a drain that timed out (exit 1) does
   not bring the agent back either. A restarted agent on a machine being removed would lease
   messages and spend a delivery of each;
4. installs `agentfleet-health.service`, a watcher that polls the agent's `/healthz` once the
   container runs and its warm-up is over and, after `HEALTH_FAILURES` failures in a row (or when
   the container never starts), runs the caller's `on_unhealthy`
   command (AWS: mark the instance Unhealthy so the Auto Scaling group replaces it) or, by
   default, restarts the agent's unit. Once the agent's unit has ended cleanly (drained, or its
   start skipped on a machine being removed) the watcher stops: nothing is left to watch, and its
   restart would bring a drained agent back;
5. optionally logs Docker in to a private registry before each start (`registry_login`; AWS
   uses it for ECR images).

Environment values are plain strings here: callers resolve Pulumi Outputs first
(`Output.all(...).apply(lambda v: agent_cloud_config(...))`). The document is checked against
cloud-init's own schema by tests/infra/test_cloudinit.py.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

import yaml

from agentfleet.agent.contract import LIFECYCLE, LIFECYCLES

#: Where the agent's environment lives on the VM (root-only).
ENV_FILE = "/etc/agentfleet/agent.env"
AGENT_UNIT = "agentfleet-agent.service"
HEALTH_UNIT = "agentfleet-health.service"
HEALTH_SCRIPT = "/usr/local/bin/agentfleet-healthwatch"
INSTALL_SCRIPT = "/usr/local/bin/agentfleet-install-docker"
LOGIN_SCRIPT = "/usr/local/bin/agentfleet-registry-login"
MAY_START_SCRIPT = "/usr/local/bin/agentfleet-may-start"
CONTAINER_NAME = "agentfleet-agent"

#: Seconds systemd waits beyond the agent's drain before it kills the container: time for
#: `docker stop` itself and for the agent's last ack and log flush.
STOP_MARGIN_SECONDS = 30
#: Seconds between two /healthz probes, and how many failures in a row mean "unhealthy".
HEALTH_INTERVAL_SECONDS = 10
HEALTH_FAILURES = 3
#: A container not running this long after boot (no Docker, an image that cannot be pulled) is
#: unhealthy: the VM would otherwise sit idle, billed, and never take work.
START_TIMEOUT_SECONDS = 900


def agent_cloud_config(
    *,
    image: str,
    env: Mapping[str, str],
    port: int,
    drain_timeout_seconds: int,
    lifecycle: str,
    health_grace_seconds: int = 90,
    on_unhealthy: str | None = None,
    log_driver: str = "journald",
    log_options: Mapping[str, str] | None = None,
    registry_login: str | None = None,
    being_removed: str | None = None,
) -> str:
    """Render the `#cloud-config` that runs `image` as the one agent of this VM.

    `env` are the container's variables (plain strings); `lifecycle` (`aws-asg`,
    `azure-scheduled-events`, `none`) is added to them as AGENTFLEET_LIFECYCLE.
    `health_grace_seconds` is how long after (re)start `/healthz` is not probed (the warm-up);
    `on_unhealthy` is a shell command run when `/healthz` keeps failing (default: restart the
    agent). `log_driver`/`log_options` are Docker's `--log-driver`/`--log-opt` (AWS: awslogs).
    `registry_login` is a shell script that logs Docker in to a private registry; it runs before
    every start of the container (registry tokens expire; ECR's after 12 hours).
    `being_removed` is a shell command that succeeds when this machine is being removed (AWS: the
    Auto Scaling target lifecycle state); the agent is then not started again.
    """
    _check(image=image, env=env, port=port, drain=drain_timeout_seconds, lifecycle=lifecycle)
    full_env = {**env, LIFECYCLE: lifecycle}
    login_files = []
    if registry_login:
        login_files.append(
            {
                "path": LOGIN_SCRIPT,
                "owner": "root:root",
                "permissions": "0700",
                "content": "#!/bin/sh\n# Logs Docker in to the agent image's registry.\nset -eu\n"
                + registry_login.strip()
                + "\n",
            }
        )
    if being_removed:
        login_files.append(
            {
                "path": MAY_START_SCRIPT,
                "owner": "root:root",
                "permissions": "0755",
                "content": _may_start_script(being_removed),
            }
        )
    document = {
        "package_update": False,
        "write_files": [
            {
                "path": ENV_FILE,
                "owner": "root:root",
                "permissions": "0600",
                "content": _env_file(full_env),
            },
            {
                "path": INSTALL_SCRIPT,
                "owner": "root:root",
                "permissions": "0755",
                "content": _install_docker_script(),
            },
            *login_files,
            {
                "path": f"/etc/systemd/system/{AGENT_UNIT}",
                "owner": "root:root",
                "permissions": "0644",
                "content": _agent_unit(
                    image=image,
                    port=port,
                    drain=drain_timeout_seconds,
                    log_driver=log_driver,
                    log_options=log_options or {},
                    login=bool(registry_login),
                    guarded=bool(being_removed),
                ),
            },
            {
                "path": HEALTH_SCRIPT,
                "owner": "root:root",
                "permissions": "0755",
                "content": _health_script(
                    port=port,
                    grace=health_grace_seconds,
                    on_unhealthy=on_unhealthy or f"systemctl restart {AGENT_UNIT}",
                ),
            },
            {
                "path": f"/etc/systemd/system/{HEALTH_UNIT}",
                "owner": "root:root",
                "permissions": "0644",
                "content": _health_unit(),
            },
        ],
        "runcmd": [
            [INSTALL_SCRIPT],
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", "docker.service"],
            ["systemctl", "enable", "--now", AGENT_UNIT],
            ["systemctl", "enable", "--now", HEALTH_UNIT],
        ],
    }
    return "#cloud-config\n" + yaml.dump(document, Dumper=_BlockDumper, sort_keys=False, width=1_000)


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings (scripts, units) as literal blocks, so the user data reads as files."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def _check(*, image: str, env: Mapping[str, str], port: int, drain: int, lifecycle: str) -> None:
    if not image or any(c.isspace() for c in image):
        raise ValueError(
            f"agent_cloud_config: image={image!r} must be a container image reference without spaces"
        )
    if not 1 <= port <= 65535:
        raise ValueError(f"agent_cloud_config: port={port} must be between 1 and 65535")
    if drain < 1:
        raise ValueError(f"agent_cloud_config: drain_timeout_seconds={drain} must be >= 1")
    if lifecycle not in LIFECYCLES:
        raise ValueError(
            f"agent_cloud_config: lifecycle={lifecycle!r} must be one of {', '.join(LIFECYCLES)}"
        )
    for key, value in env.items():
        if not isinstance(value, str):
            raise ValueError(
                f"agent_cloud_config: env[{key!r}] must be a plain string (resolve Outputs first), "
                f"got {type(value).__name__}"
            )
        if "\n" in value or "\r" in value or "=" in key or not key:
            # Docker's --env-file is one KEY=VALUE per line, taken literally: no way to escape these.
            raise ValueError(
                f"agent_cloud_config: env[{key!r}] must be one line, and the name must not contain '='"
            )


def _env_file(env: Mapping[str, str]) -> str:
    # Docker's --env-file takes each line literally (no quotes, no expansion), so values are
    # written as they are.
    return "".join(f"{k}={v}\n" for k, v in sorted(env.items()))


def _install_docker_script() -> str:
    return """#!/bin/sh
# Installs Docker with this distribution's package manager; idempotent (re-runs are no-ops).
set -eu
if command -v docker >/dev/null 2>&1; then exit 0; fi
if command -v dnf >/dev/null 2>&1; then
  dnf install -y docker
elif command -v yum >/dev/null 2>&1; then
  yum install -y docker
elif command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q docker.io
else
  echo "agentfleet: no dnf, yum or apt-get on this image; cannot install docker" >&2
  exit 1
fi
"""


def _may_start_script(being_removed: str) -> str:
    return f"""#!/bin/sh
# The agent unit's ExecCondition: exit 1 (systemd skips the start, does not mark the unit failed,
# and so never restarts it) when this machine is being removed; exit 0 otherwise, including when
# the check itself cannot tell (the agent then starts, as it would without this check).
if {{ {being_removed.strip()} ; }} >/dev/null 2>&1; then
  echo "agentfleet: this machine is being removed; the agent is not started again" >&2
  exit 1
fi
exit 0
"""


def _agent_unit(
    *,
    image: str,
    port: int,
    drain: int,
    log_driver: str,
    log_options: Mapping[str, str],
    login: bool,
    guarded: bool,
) -> str:
    run = [
        "/usr/bin/docker", "run", "--rm", "--init",
        "--name", CONTAINER_NAME,
        "--env-file", ENV_FILE,
        "--publish", f"{port}:{port}",
        "--stop-timeout", str(drain),
        "--log-driver", log_driver,
    ]  # fmt: skip
    for key, value in sorted(log_options.items()):
        run += ["--log-opt", f"{key}={value}"]
    run.append(image)
    login_line = f"ExecStartPre={LOGIN_SCRIPT}\n" if login else ""
    # "If any ExecCondition= commands exit with exit code 1 through 254 (inclusive), the remaining
    # commands are skipped and the unit is not marked as failed" (systemd.service): not restarted.
    condition_line = f"ExecCondition={MAY_START_SCRIPT}\n" if guarded else ""
    return f"""[Unit]
Description=agentfleet agent ({image})
After=docker.service network-online.target
Requires=docker.service
Wants=network-online.target
# Keep retrying (a registry outage at boot must not leave the VM idle for good).
StartLimitIntervalSec=0

[Service]
# A drained agent (exit 0) stays down; a crash (non-zero exit, signal) restarts.
Restart=on-failure
RestartSec=5
# The first start pulls the image.
TimeoutStartSec=0
{condition_line}ExecStartPre=-/usr/bin/docker rm --force {CONTAINER_NAME}
{login_line}ExecStart={shlex.join(run)}
# SIGTERM reaches the agent; it has {drain} s to drain before Docker kills it.
ExecStop=/usr/bin/docker stop --time {drain} {CONTAINER_NAME}
TimeoutStopSec={drain + STOP_MARGIN_SECONDS}

[Install]
WantedBy=multi-user.target
"""


def _health_script(*, port: int, grace: int, on_unhealthy: str) -> str:
    return f"""#!/bin/sh
# Polls /healthz every {HEALTH_INTERVAL_SECONDS} s; after {HEALTH_FAILURES} failures in a row the
# agent is unhealthy and the action below runs. The {grace} s warm-up starts when the container
# is running (installing Docker and pulling the image do not eat into it); a container that is
# not running {START_TIMEOUT_SECONDS} s after the watcher started counts as unhealthy too.
set -u
# The agent's unit ended cleanly: it drained and exited 0, or its start was skipped because this
# machine is being removed. Nothing is left to watch; a restart would bring a drained agent back.
stop_if_drained() {{
  state=$(systemctl show --property=ActiveState --value {AGENT_UNIT})
  result=$(systemctl show --property=Result --value {AGENT_UNIT})
  if [ "$state" = inactive ] && {{ [ "$result" = success ] || [ "$result" = exec-condition ]; }}; then
    echo "agentfleet: the agent has drained and exited; stopped watching it" >&2
    exit 0
  fi
}}
unhealthy() {{
  stop_if_drained
  echo "agentfleet: $1; marking this agent unhealthy" >&2
  {on_unhealthy}
}}
warm_up() {{
  waited=0
  until [ "$(docker inspect --format '{{{{.State.Running}}}}' {CONTAINER_NAME} 2>/dev/null)" = "true" ]; do
    stop_if_drained
    if [ "$waited" -ge {START_TIMEOUT_SECONDS} ]; then
      unhealthy "the agent container is not running after {START_TIMEOUT_SECONDS} s"
      waited=0
    fi
    sleep 5
    waited=$((waited + 5))
  done
  sleep {grace}
}}
warm_up
fails=0
while true; do
  if curl --silent --fail --max-time 5 --output /dev/null http://127.0.0.1:{port}/healthz; then
    fails=0
  else
    fails=$((fails + 1))
  fi
  if [ "$fails" -ge {HEALTH_FAILURES} ]; then
    unhealthy "/healthz failed {HEALTH_FAILURES} times in a row"
    fails=0
    warm_up
  fi
  sleep {HEALTH_INTERVAL_SECONDS}
done
"""


def _health_unit() -> str:
    return f"""[Unit]
Description=agentfleet agent health watcher (/healthz)
After={AGENT_UNIT}
Wants={AGENT_UNIT}

[Service]
# The watcher exits 0 only once the agent has drained for good; it stays down then.
Restart=on-failure
RestartSec=10
ExecStart={HEALTH_SCRIPT}

[Install]
WantedBy=multi-user.target
"""
