"""mypy, run by `make typecheck` over the program, catches what Pulumi's mocks cannot.

A misspelt nested property (`launch_template={"idd": ...}`) is accepted by the mock runtime —
mocks echo any input — and rejected by the cloud on the first `pulumi up`. The provider SDKs'
typed inputs (`*ArgsDict` TypedDicts) make it a type error; this proves mypy, as configured for
the project, reports it, and that the correctly spelt call is clean.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CALL = (
    'aws.autoscaling.Group("g", max_size=1, min_size=0, '
    'launch_template={{"{key}": "lt-1", "version": "$Latest"}})'
)


def _mypy(tmp_path: Path, key: str) -> subprocess.CompletedProcess[str]:
    source = tmp_path / f"program_{key}.py"
    source.write_text("import pulumi_aws as aws\n\n" + CALL.format(key=key) + "\n")
    # The project's mypy settings and cache (warmed by `make typecheck`), on just this file.
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), str(source)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_mypy_rejects_a_misspelt_nested_property_that_mocks_would_accept(tmp_path: Path) -> None:
    result = _mypy(tmp_path, "idd")
    assert result.returncode == 1, result.stdout
    assert "program_idd.py:3: error" in result.stdout
    assert "launch_template" in result.stdout


def test_mypy_accepts_the_correctly_spelt_property(tmp_path: Path) -> None:
    result = _mypy(tmp_path, "id")
    assert result.returncode == 0, result.stdout
