"""The Azure release script, run for real against a local IMDS: it applies the release in userData
at boot, again only when it changes (restarting the agent on it), and installs Docker retrying.

IMDS is a local HTTP server answering the documented request (`GET /metadata/instance/compute/
userData?api-version=2021-01-01&format=text` with `Metadata: true`, base64 body); commands the
script would run go to a recorder instead, so nothing on this machine is touched.
"""

from __future__ import annotations

import base64
import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from agentfleet.providers.azure import release
from agentfleet.providers.cloudinit import AGENT_UNIT, ENV_FILE, agent_cloud_config

RECORDER = """import json, os, sys
log = os.environ["RECORD_LOG"]
with open(log, "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
fail = os.environ.get("FAIL_FIRST", "")
marker = log + ".failed"
if fail and sys.argv[1:3] == fail.split(" ")[:2] and not os.path.exists(marker):
    open(marker, "w").close()
    sys.exit(100)
"""


class _Imds(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.headers.get("Metadata") != "true" or self.path != release.USER_DATA_PATH:
            self.send_response(400)
            self.end_headers()
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(type(self).body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def imds() -> Iterator[tuple[str, type[_Imds]]]:
    handler = type("Imds", (_Imds,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def _release(image: str) -> str:
    return agent_cloud_config(
        image=image,
        env={"AGENTFLEET_QUEUE": "moodring"},
        port=8080,
        drain_timeout_seconds=120,
        lifecycle="azure-scheduled-events",
    )


def _apply(tmp_path: Path, imds_url: str, **env: str) -> tuple[int, list[list[str]], str]:
    script = tmp_path / "apply.py"
    script.write_text(release.apply_script())
    recorder = tmp_path / "recorder.py"
    recorder.write_text(RECORDER)
    log = tmp_path / "commands.log"
    log.unlink(missing_ok=True)
    empty_path = tmp_path / "bin"  # no docker on PATH: the install must run
    empty_path.mkdir(exist_ok=True)
    result = subprocess.run(
        [sys.executable, str(script)],
        env={
            "PATH": str(empty_path),
            "AGENTFLEET_IMDS": imds_url,
            "AGENTFLEET_ROOT": str(tmp_path / "root"),
            "AGENTFLEET_RUN": f"{sys.executable} {recorder}",
            "AGENTFLEET_BACKOFF_SECONDS": "0",
            "RECORD_LOG": str(log),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    commands = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result.returncode, commands, result.stderr


def test_first_boot_writes_the_release_and_runs_its_commands(tmp_path: Path, imds) -> None:
    url, handler = imds
    handler.body = base64.b64encode(_release("ghcr.io/acme/agent:1.0.0").encode())
    code, commands, stderr = _apply(tmp_path, url)
    assert code == 0, stderr
    env_file = tmp_path / "root" / ENV_FILE.lstrip("/")
    assert "AGENTFLEET_QUEUE=moodring" in env_file.read_text()
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    unit = (tmp_path / "root" / "etc/systemd/system" / AGENT_UNIT).read_text()
    assert "ghcr.io/acme/agent:1.0.0" in unit
    assert ["systemctl", "enable", "--now", AGENT_UNIT] in commands
    # Nothing was running on an older release: no restart.
    assert ["systemctl", "try-restart", AGENT_UNIT] not in commands


def test_an_unchanged_release_is_not_applied_again(tmp_path: Path, imds) -> None:
    url, handler = imds
    handler.body = base64.b64encode(_release("ghcr.io/acme/agent:1.0.0").encode())
    assert _apply(tmp_path, url)[0] == 0
    code, commands, stderr = _apply(tmp_path, url)
    assert code == 0, stderr
    assert commands == []


def test_a_changed_release_is_applied_and_the_agent_restarted_on_it(tmp_path: Path, imds) -> None:
    url, handler = imds
    handler.body = base64.b64encode(_release("ghcr.io/acme/agent:1.0.0").encode())
    assert _apply(tmp_path, url)[0] == 0
    handler.body = base64.b64encode(_release("ghcr.io/acme/agent:1.0.1").encode())
    code, commands, stderr = _apply(tmp_path, url)
    assert code == 0, stderr
    unit = (tmp_path / "root" / "etc/systemd/system" / AGENT_UNIT).read_text()
    assert "ghcr.io/acme/agent:1.0.1" in unit
    # try-restart: a drained (stopped) agent stays down; a running one restarts, drain-aware.
    assert commands[-1] == ["systemctl", "try-restart", AGENT_UNIT]


def test_docker_install_waits_for_the_dpkg_lock_and_retries(tmp_path: Path, imds) -> None:
    url, handler = imds
    handler.body = base64.b64encode(_release("ghcr.io/acme/agent:1.0.0").encode())
    code, commands, stderr = _apply(tmp_path, url, FAIL_FIRST="apt-get -o")
    assert code == 0, stderr
    updates = [c for c in commands if c[0] == "apt-get" and "update" in c]
    assert len(updates) == 2, commands  # the first failed, the second succeeded
    lock = f"DPkg::Lock::Timeout={release.DPKG_LOCK_TIMEOUT_SECONDS}"
    assert all(lock in c for c in commands if "apt-get" in c)
    assert "attempt 1 failed" in stderr


def test_an_unreachable_imds_fails_the_run_so_the_timer_retries(tmp_path: Path) -> None:
    code, commands, _ = _apply(tmp_path, "http://127.0.0.1:9")
    assert code != 0 and commands == []


def test_a_release_with_something_the_script_does_not_apply_is_refused(tmp_path: Path, imds) -> None:
    # If providers/cloudinit.py grows a module (bootcmd, packages ...), Azure must not skip it.
    url, handler = imds
    handler.body = base64.b64encode(b"#cloud-config\npackages: [jq]\nruncmd: [[true]]\n")
    code, commands, stderr = _apply(tmp_path, url)
    assert code != 0 and commands == []
    assert "packages" in stderr


def test_the_rendered_release_uses_only_what_the_script_applies() -> None:
    document = yaml.safe_load(_release("ghcr.io/acme/agent:1.0.0"))
    assert set(document) <= set(release.SUPPORTED_KEYS)
    assert document.get("package_update") is False
    for entry in document["write_files"]:
        assert set(entry) <= set(release.SUPPORTED_FILE_KEYS), entry
