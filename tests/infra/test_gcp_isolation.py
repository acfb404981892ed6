"""Synthesizing a GCP stack imports no AWS or Azure SDK (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys
from tests.infra.conftest import synth
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
