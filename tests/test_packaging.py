"""What installing agentfleet puts into a user's environment: one import name, and what it needs.

A user's Pulumi project often has its own `components/` folder; a wheel that installed ours as a
top-level `components` package would shadow or be shadowed by it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from agentfleet.local.stack import BUILTIN_STACKS, stack_file

ROOT = Path(__file__).resolve().parent.parent
NOT_SOURCE = (".git", ".venv", ".peers", "build", "*.egg-info", "out", ".agentfleet", "__pycache__", ".*_c*")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    # A copy, so the build's own folders (build/, *.egg-info) never land in the checkout.
    source = tmp_path_factory.mktemp("source") / "agentfleet"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    # No build isolation: the dev extra carries a setuptools new enough for pyproject.toml.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out)]
        + [str(source)],
        check=True,
        cwd=out,
    )
    (built,) = out.glob("agentfleet-*.whl")
    return zipfile.ZipFile(built)


@pytest.mark.slow
def test_the_wheel_installs_exactly_one_top_level_name(wheel: zipfile.ZipFile) -> None:
    top = {name.split("/")[0] for name in wheel.namelist() if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"agentfleet"}


@pytest.mark.slow
def test_the_wheel_carries_the_runtime_the_component_the_providers_and_the_demo_stack(
    wheel: zipfile.ZipFile,
) -> None:
    names = set(wheel.namelist())
    for required in (
        "agentfleet/agent/worker.py",
        "agentfleet/agent/Dockerfile",
        "agentfleet/components/fleet.py",
        "agentfleet/providers/aws/fleet.py",
        "agentfleet/providers/gcp/fleet.py",
        "agentfleet/local/stacks/local-demo.yaml",
    ):
        assert required in names, required
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "agentfleet = agentfleet.cli:app" in wheel.read(entry_points).decode()


def test_the_demo_stack_is_found_from_a_folder_that_has_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert stack_file("local-demo") == BUILTIN_STACKS / "local-demo.yaml"


BLOCK_PULUMI = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "pulumi" or name.startswith("pulumi."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Block())
from agentfleet.cli import app
app(["plan", "--stack", "dev"])
"""


def test_plan_without_the_infra_extra_says_which_extra_to_install_in_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_PULUMI], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines == ["agentfleet: plan needs the infra extra: pip install 'agentfleet[infra]'"]
