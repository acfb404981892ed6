"""Call `tests/plugin/host.py` in a child process (why: its docstring) and return what it printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_host(check: str, arg: Any = None) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "tests.plugin.host", check, json.dumps(arg)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@cache
def analyzed_schema() -> dict[str, Any]:
    """The package schema Pulumi's analyzer infers (agentfleet.plugin.schema)."""
    return dict(run_host("schema"))
