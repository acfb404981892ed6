"""The layout the code promises (docs/DESIGN.md, "Layers"), checked on the source itself.

Imports run one way — neutral model <- targets <- component and program <- CLI and tools — and the
runtime stands alone; nothing in the neutral model names a cloud; every registered target
supplies the whole interface of providers/base.py.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
from pathlib import Path

import pytest

from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.schema import FleetConfig, TargetSettings
from agentfleet.components.validation import parse_fleet
from agentfleet.providers import TARGETS, target
from agentfleet.providers.base import Target

PACKAGE = Path(__file__).resolve().parent.parent / "agentfleet"

#: The component layer inside components/: everything else there is the neutral model.
COMPONENT_MODULES = {
    "agentfleet.components.validation",
    "agentfleet.components.args",
    "agentfleet.components.fleet",
    "agentfleet.components.network",
    "agentfleet.components.program",
}

#: Lower number = lower layer. A module may import its own layer or lower ones, never a higher one.
RUNTIME, NEUTRAL, TARGETS_LAYER, COMPONENT, TOOLS = 0, 1, 2, 3, 4


def layer_of(module: str) -> int:
    if module == "agentfleet.agent" or module.startswith("agentfleet.agent."):
        return RUNTIME
    if module in COMPONENT_MODULES:
        return COMPONENT
    if module.startswith("agentfleet.components"):
        return NEUTRAL
    if module.startswith("agentfleet.providers"):
        return TARGETS_LAYER
    return TOOLS


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    """Every module of the installed name, read through agentfleet/ (links included)."""
    # os.walk, not Path.rglob: before Python 3.13 `**` does not follow the links to agent/ & co.
    found = {
        module_name(Path(folder) / f): Path(folder) / f
        for folder, _, files in os.walk(PACKAGE, followlinks=True)
        for f in files
        if f.endswith(".py")
    }
    assert "agentfleet.agent.worker" in found and "agentfleet.providers.aws.fleet" in found
    return found


def imports_of(path: Path, module: str) -> set[str]:
    """Every agentfleet module `path` imports, at file level or inside a function."""
    tree = ast.parse(path.read_text())
    modules = project_modules()
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [base])
            # `from pkg import mod` imports pkg.mod; `from pkg import name` imports pkg itself.
            submodules = {f"{base}.{a.name}" for a in node.names} & modules.keys()
            found.update(submodules or {base})
    return {name for name in found if name in modules}


def test_every_import_runs_from_a_higher_layer_to_a_lower_one_or_stays_in_its_own() -> None:
    upward: list[str] = []
    for module, path in project_modules().items():
        for imported in imports_of(path, module):
            if layer_of(imported) > layer_of(module):
                upward.append(f"{module} imports {imported}")
    # The runtime's contract is the one thing the layers above share with the runtime; nothing else
    # crosses, and the runtime itself imports only itself (checked by the layer order).
    assert upward == []


def test_the_runtime_imports_nothing_but_itself() -> None:
    for module, path in project_modules().items():
        if layer_of(module) == RUNTIME:
            assert {layer_of(m) for m in imports_of(path, module)} <= {RUNTIME}, module


def test_the_targets_reach_into_the_runtime_only_for_its_contract() -> None:
    for module, path in project_modules().items():
        if layer_of(module) in (NEUTRAL, TARGETS_LAYER):
            runtime = {m for m in imports_of(path, module) if layer_of(m) == RUNTIME}
            assert runtime <= {"agentfleet.agent", "agentfleet.agent.contract"}, module


def test_the_module_import_graph_has_no_cycle() -> None:
    modules = project_modules()
    graph = {m: imports_of(p, m) - {m} for m, p in modules.items()}
    # A package's __init__ is imported by its submodules implicitly; only explicit edges count.
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, trail: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle.extend([*trail[trail.index(nxt) :], nxt] if nxt in trail else [node, nxt])
                return True
            if state.get(nxt) is None and visit(nxt, [*trail, nxt]):
                return True
        state[node] = 2
        return False

    for m in sorted(graph):
        if state.get(m) is None and visit(m, [m]):
            break
    assert cycle == []


CLOUD_WORDS = re.compile(
    r"\b(aws|amazon|azure|microsoft|gcp|google|gke|sqs|dynamodb|service ?bus|pub/?sub|firestore"
    r"|pulumi_\w+)\b",
    re.IGNORECASE,
)


def test_no_module_of_the_neutral_model_or_the_component_names_a_cloud() -> None:
    named: list[str] = []
    for module, path in project_modules().items():
        if module.startswith("agentfleet.components"):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if CLOUD_WORDS.search(line):
                    named.append(f"{path.name}:{n}: {line.strip()}")
    assert named == []


@pytest.mark.parametrize("name", list(TARGETS))
def test_every_registered_target_supplies_the_whole_interface(name: str) -> None:
    record = target(name)
    assert isinstance(record, Target)
    assert record.name == name
    # Its section: a settings model keyed by the target's name, valid with no keys at all.
    assert issubclass(record.settings, TargetSettings)
    assert record.settings.section == name
    record.settings()
    # Its limits: every problem of a whole config, as a list.
    fleet = parse_fleet({"name": "checked", "agent": {"image": "ghcr.io/acme/agent:1.0"}})
    assert isinstance(fleet, FleetConfig)
    assert isinstance(record.validate(fleet), list)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in record.required_settings.items())
    # Its builders take the same parameters on every target.
    build_parameters = ["parent", "config", "policy", "shared", "inputs"]
    assert list(inspect.signature(record.build).parameters) == build_parameters
    assert list(inspect.signature(record.build_shared).parameters) == ["parent", "config", "inputs"]
    assert all(isinstance(paths, list) for paths in record.plan_settings.values())
    assert callable(record.mocks.resource_outputs) and callable(record.mocks.invoke)
    assert isinstance(ScalingPolicy.from_config(fleet), ScalingPolicy)


@pytest.mark.parametrize("name", list(TARGETS))
def test_every_target_package_has_the_same_modules(name: str) -> None:
    """Reading one provider teaches all: the same file names in each (docs/DESIGN.md)."""
    expected = {"__init__", "settings", "names", "queue", "state", "identity", "compute", "scaling",
                "monitoring", "fleet", "plan", "mocks"}  # fmt: skip
    present = {p.stem for p in (PACKAGE / "providers" / name).glob("*.py")}
    assert expected <= present, sorted(expected - present)
