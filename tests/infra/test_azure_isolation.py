"""An Azure stack imports no AWS or Google SDK (docs/DESIGN.md: only the chosen cloud's SDK)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Every `google.*` module must be protobuf: Pulumi's own dependency (its gRPC protocol), not a
#: Google Cloud SDK.
PROBE = """
import json, sys
sys.path.insert(0, {root!r})
from tests.infra.helpers import synth
s = synth("azure", {{"state": {{"cache": True}}}})
assert s.of_type("azure-native:compute:VirtualMachineScaleSet"), "no scale set synthesized"
forbidden = ("pulumi_aws", "pulumi_gcp", "pulumi_kubernetes", "boto3", "botocore", "googleapiclient")
pulumi_own = ("google.protobuf", "google._upb")
found = [m for m in sys.modules if m.startswith(forbidden)
         or (m.startswith("google.") and not m.startswith(pulumi_own))]
print(json.dumps(sorted(found)))
print(json.dumps("pulumi_azure_native.compute" in sys.modules))
"""


def test_synthesizing_an_azure_stack_imports_no_other_cloud_sdk() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(root=str(ROOT))],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert json.loads(lines[-2]) == []
    assert json.loads(lines[-1]) is True  # the probe really ran the Azure provider
