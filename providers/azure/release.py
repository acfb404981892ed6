"""How the agent's image and environment reach every VM of the scale set, on every rollout.

The release (the `#cloud-config` from providers/cloudinit.py: image, environment, units) travels
in the scale set's `userData`, not in its custom data. Azure: "User data can be updated from
outside the VM, without stopping or rebooting the VM" and "can be retrieved from Azure Instance
Metadata Service (IMDS) after provision", while custom data is only read when a VM is created, so
an in-place upgrade (what MaxSurge falls back to when the quota check fails) would leave a VM on
the old image until it is reimaged.

The custom data is a fixed bootstrap that never changes between deploys: a timer that, at boot
and then every minute, runs `agentfleet-apply-release`. That script reads `userData` from IMDS
and, when it differs from the release last applied, writes the release's files, runs its
commands, and restarts the agent (a drain-aware stop) if it was running. It also installs Docker
first, idempotently, waiting for the dpkg lock and retrying with backoff: a failed attempt exits
non-zero and systemd runs it again, so a transient apt failure never leaves a VM without an agent.
"""

from __future__ import annotations

import base64

import yaml

from agentfleet.providers.cloudinit import AGENT_UNIT

APPLY_SCRIPT = "/usr/local/bin/agentfleet-apply-release"
RELEASE_UNIT = "agentfleet-release.service"
RELEASE_TIMER = "agentfleet-release.timer"
#: Where the digest of the release last applied is kept.
APPLIED_FILE = "/var/lib/agentfleet/release.sha256"
#: IMDS: "GET /metadata/instance/compute/userData?api-version=2021-01-01&format=text" (base64).
IMDS = "http://169.254.169.254"
USER_DATA_PATH = "/metadata/instance/compute/userData?api-version=2021-01-01&format=text"
#: What the script applies of a release's cloud-config (providers/cloudinit.py uses just these);
#: anything else stops it with an error rather than being skipped.
SUPPORTED_KEYS = ("package_update", "write_files", "runcmd")
SUPPORTED_FILE_KEYS = ("path", "owner", "permissions", "content")
#: Seconds between two reads of userData: how long after an in-place upgrade a VM runs the new image.
POLL_SECONDS = 60
#: Docker install: attempts per run, and how long apt waits for the dpkg lock each time
#: (apt's `DPkg::Lock::Timeout`, seconds); cloud-init's own apt runs may hold it at boot.
INSTALL_ATTEMPTS = 5
DPKG_LOCK_TIMEOUT_SECONDS = 300


def user_data(release: str) -> str:
    """The release as the API wants it: base64 ("The contents should be base64 encoded")."""
    return base64.b64encode(release.encode()).decode()


def bootstrap_cloud_config() -> str:
    """The scale set's custom data: the same document for every deploy of every fleet."""
    document = {
        "write_files": [
            {"path": APPLY_SCRIPT, "owner": "root:root", "permissions": "0755", "content": apply_script()},
            {
                "path": f"/etc/systemd/system/{RELEASE_UNIT}",
                "owner": "root:root",
                "permissions": "0644",
                "content": _release_unit(),
            },
            {
                "path": f"/etc/systemd/system/{RELEASE_TIMER}",
                "owner": "root:root",
                "permissions": "0644",
                "content": _release_timer(),
            },
        ],
        "runcmd": [
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", RELEASE_TIMER],
            # The first run now, not when the timer's boot offset is judged to have passed.
            ["systemctl", "start", "--no-block", RELEASE_UNIT],
        ],
    }
    return "#cloud-config\n" + yaml.safe_dump(document, sort_keys=False, width=1_000)


def _release_unit() -> str:
    return f"""[Unit]
Description=agentfleet: apply the release in this VM's userData (image, environment)
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart={APPLY_SCRIPT}
"""


def _release_timer() -> str:
    return f"""[Unit]
Description=agentfleet: read this VM's userData at boot and every {POLL_SECONDS} s

[Timer]
OnBootSec=1
OnUnitInactiveSec={POLL_SECONDS}

[Install]
WantedBy=timers.target
"""


def apply_script() -> str:
    """The script that applies a release; Python 3 and PyYAML are on the image (cloud-init needs both).

    `AGENTFLEET_IMDS`, `AGENTFLEET_ROOT`, `AGENTFLEET_RUN` (a command prefix) and
    `AGENTFLEET_BACKOFF_SECONDS` exist so that tests can run it against a local IMDS, in a scratch
    directory, without running anything or waiting."""
    return f'''#!/usr/bin/python3
"""Apply the release in this VM's userData (agentfleet, providers/azure/release.py)."""
import base64
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request

import yaml

IMDS = os.environ.get("AGENTFLEET_IMDS", "{IMDS}")
ROOT = os.environ.get("AGENTFLEET_ROOT", "/")
RUN = shlex.split(os.environ.get("AGENTFLEET_RUN", ""))
BACKOFF = float(os.environ.get("AGENTFLEET_BACKOFF_SECONDS", "5"))
APPLIED = os.path.join(ROOT, "{APPLIED_FILE}".lstrip("/"))


def log(message):
    print("agentfleet-apply-release: " + message, file=sys.stderr, flush=True)


def run(command):
    subprocess.run(RUN + list(command), check=True)


def fetch():
    request = urllib.request.Request(IMDS + "{USER_DATA_PATH}", headers={{"Metadata": "true"}})
    with urllib.request.urlopen(request, timeout=10) as response:
        return base64.b64decode(response.read())


def install_docker():
    """Idempotent: nothing to do once docker exists. Waits for the dpkg lock, retries with backoff."""
    if shutil.which("docker"):
        return
    for attempt in range(1, {INSTALL_ATTEMPTS} + 1):
        try:
            lock = ["-o", "DPkg::Lock::Timeout={DPKG_LOCK_TIMEOUT_SECONDS}"]
            run(["apt-get", *lock, "update", "-q"])
            install = ["apt-get", *lock, "install", "-y", "-q", "docker.io"]
            run(["env", "DEBIAN_FRONTEND=noninteractive", *install])
            return
        except subprocess.CalledProcessError as error:
            log("docker install attempt %d failed: %s" % (attempt, error))
            if attempt == {INSTALL_ATTEMPTS}:
                raise
            time.sleep(min(60, BACKOFF * 2 ** attempt))


def write(entry):
    path = os.path.join(ROOT, entry["path"].lstrip("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".new", "w") as handle:
        handle.write(entry.get("content", ""))
    os.chmod(path + ".new", int(entry.get("permissions", "0644"), 8))
    os.replace(path + ".new", path)


def main():
    release = fetch()
    digest = hashlib.sha256(release).hexdigest()
    applied = open(APPLIED).read().strip() if os.path.exists(APPLIED) else None
    if digest == applied:
        return 0
    document = yaml.safe_load(release)
    unsupported = sorted(set(document) - set({SUPPORTED_KEYS!r}))
    unsupported += sorted(
        key for entry in document.get("write_files", []) for key in set(entry) - set({SUPPORTED_FILE_KEYS!r})
    )
    if unsupported or document.get("package_update"):
        log("release uses what this script does not apply: %s" % (unsupported or "package_update"))
        return 1
    install_docker()
    for entry in document.get("write_files", []):
        write(entry)
    for command in document.get("runcmd", []):
        run(command if isinstance(command, list) else ["sh", "-c", command])
    if applied is not None:
        log("release changed; restarting the agent on it")
        run(["systemctl", "try-restart", "{AGENT_UNIT}"])
    os.makedirs(os.path.dirname(APPLIED), exist_ok=True)
    with open(APPLIED, "w") as handle:
        handle.write(digest + "\\n")
    log("applied release " + digest[:12])
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''
