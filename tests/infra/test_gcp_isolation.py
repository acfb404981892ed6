"""Synthesizing a GCP stack imports no AWS or Azure SDK (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys
from tests.infra.helpers import synth
result = synth("gcp")
assert result.of_type("gcp:pubsub/subscription:Subscription"), "nothing synthesized"
forbidden = ("pulumi_aws", "pulumi_azure_native", "boto3", "botocore", "azure")
loaded = sorted(m for m in sys.modules if m.split(".")[0] in forbidden)
print(json.dumps({"loaded": loaded, "gcp": "pulumi_gcp" in sys.modules}))
"""


def test_gcp_synthesis_imports_no_other_cloud_sdk() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"loaded": [], "gcp": True}


OFFLINE_SCRIPT = """
import socket

def refuse(*args, **kwargs):
    raise OSError("network access attempted during synthesis")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.getaddrinfo = refuse
socket.create_connection = refuse

from tests.infra.helpers import synth
result = synth("gcp")
release = result.one("kubernetes:helm.sh/v3:Release")
print(release.inputs["chart"], len(result.resources))
"""


def test_gcp_synthesis_with_the_keda_chart_needs_no_network() -> None:
    """The Helm release is only recorded under mocks: no chart download, no socket opened."""
    done = subprocess.run(
        [sys.executable, "-c", OFFLINE_SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    chart, count = done.stdout.split()
    assert chart == "keda" and int(count) > 30
