"""Run a rendered shell script for real, with some commands replaced by fakes on PATH."""

from __future__ import annotations

import subprocess
from pathlib import Path


def run_with_fakes(tmp_path: Path, script: str, fakes: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `script` with /bin/sh; each name in `fakes` is a command whose body is the given shell."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in fakes.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    path = tmp_path / "script.sh"
    path.write_text(script)
    return subprocess.run(
        ["/bin/sh", str(path)],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
