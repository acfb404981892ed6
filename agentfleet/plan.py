"""`agentfleet plan`: what a stack would create, offline, before anyone runs `pulumi up`.

It runs the real Pulumi program (`components.program.main`) under Pulumi's mock runtime
(agentfleet/synth.py) — no credentials, no Pulumi CLI, no network — and prints the tree of
resources (component -> children) with the settings a reviewer cares about, then the stack
outputs. The settings shown per resource type come from `providers/<cloud>/plan.py`
(`KEY_SETTINGS`: dotted input paths); types without a list show their scalar inputs.

    agentfleet plan                      # Pulumi.dev.yaml, in this directory or the project root
    agentfleet plan --stack prod         # Pulumi.prod.yaml
    agentfleet plan --config my.yaml     # any file with a `config:` map (or the map itself)
    agentfleet plan --json               # machine-readable
    agentfleet plan --preview            # as `pulumi preview` sees it: computed outputs unknown

A bad config prints its one-line-per-problem message and exits 2.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from agentfleet.extras import require_extra
from agentfleet.providers import TARGETS, target

if TYPE_CHECKING:
    # Imported lazily below: the root CLI also starts `agentfleet agent run` inside agent images
    # that carry no Pulumi SDK, so nothing here may import pulumi at module level.
    from agentfleet.synth import Recorded, Synthesis

#: Inputs never worth a line in the tree (tags repeat on every resource; user data is a document).
HIDDEN_INPUTS = frozenset({"tags", "userData", "tagSpecifications", "labels", "customData"})
MAX_VALUE_CHARS = 100
#: How the SDK marks a value only the cloud can compute (in --preview).
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
MAX_DEFAULT_SETTINGS = 6


def find_stack_file(stack: str, cwd: Path | None = None) -> Path:
    """Pulumi.<stack>.yaml where the user is: the current directory, as `pulumi` itself reads it."""
    folder = (cwd or Path.cwd()).resolve()
    name = f"Pulumi.{stack}.yaml"
    if (folder / name).is_file():
        return folder / name
    found = folder.glob("Pulumi.*.yaml")
    others = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in found)
    if others:
        hint = f"stacks here: {', '.join(others)} (pass --stack {others[0]})"
    else:
        hint = "run it in your Pulumi project's folder, or pass --config FILE"
    raise FileNotFoundError(f"agentfleet: no {name} in {folder}; {hint}")


def load_config(path: Path) -> dict[str, str]:
    """Engine-form config from a stack file (`config:` map) or from a bare map of config keys."""
    if path.is_dir():
        raise ValueError(f"agentfleet: {path} is a folder; --config takes a file such as Pulumi.dev.yaml")
    try:
        text = path.read_text()
    except OSError as exc:
        raise ValueError(f"agentfleet: cannot read {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"agentfleet: {path} is not valid YAML: {_yaml_problem(exc)}") from None
    if not isinstance(data, Mapping):
        raise ValueError(f"agentfleet: {path} must be a YAML map with a `config:` map of stack settings")
    raw = data.get("config", data)
    if not isinstance(raw, Mapping):
        raise ValueError(f"agentfleet: {path}: `config` must be a map of keys to values")
    from agentfleet.synth import flatten_config

    return flatten_config(raw)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's multi-line message as one line: what is wrong and where."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{problem}"


def key_settings_for(cloud: str | None) -> dict[str, list[str]]:
    """The cloud's per-type list of settings to show (providers/<cloud>/plan.py), if it has one."""
    if cloud not in TARGETS:
        return {}
    return dict(target(cloud).plan_settings)


def lookup(value: Any, path: str) -> Any:
    """Follow a dotted path into recorded inputs; `[*]` maps over a list; JSON strings are opened."""
    parts = path.split(".")
    return _lookup(value, parts)


def _lookup(value: Any, parts: list[str]) -> Any:
    if not parts:
        return value
    if isinstance(value, str) and value[:1] in "{[":
        try:
            value = json.loads(value)
        except ValueError:
            return None
    head, rest = parts[0], parts[1:]
    star = head.endswith("[*]")
    key = head[:-3] if star else head
    if not isinstance(value, Mapping) or key not in value:
        return None
    found = value[key]
    if not star:
        return _lookup(found, rest)
    if not isinstance(found, list):
        return None
    mapped = [_lookup(item, rest) for item in found]
    return [m for m in mapped if m is not None] or None


def settings_of(resource: Recorded, key_settings: Mapping[str, list[str]]) -> dict[str, Any]:
    """The settings shown for one resource: its type's key paths, or its first scalar inputs."""
    paths = key_settings.get(resource.type)
    if paths is not None:
        found = {p: lookup(resource.inputs, p) for p in paths}
        return {p.replace("[*]", ""): v for p, v in found.items() if v is not None}
    scalars = {
        k: v
        for k, v in resource.inputs.items()
        if k not in HIDDEN_INPUTS and isinstance(v, str | int | float | bool) and k != "name"
    }
    return dict(list(scalars.items())[:MAX_DEFAULT_SETTINGS])


def show(value: Any) -> str:
    """A value for the tree, after `_marked` has spelled out unknowns and labelled mocks."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = value if isinstance(value, str) else json.dumps(_integral(value), separators=(",", ":"))
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral(v) for v in value]
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    return value


#: Shown where the cloud computes a value that a dry run cannot know.
KNOWN_AFTER_APPLY = "(known after apply)"
MOCK_NOTE = (
    "ids, ARNs, URLs and account numbers are stand-ins from the offline mocks; "
    "pulumi preview shows the real ones"
)


def _marked(value: Any, stand_ins: Mapping[str, str]) -> Any:
    """`value` with unknowns spelled out and every string holding a mocked value labelled."""
    if value == UNKNOWN:
        return KNOWN_AFTER_APPLY
    if isinstance(value, str):
        return value + " (mock)" if any(s in value for s in stand_ins) else value
    if isinstance(value, list):
        return [_marked(v, stand_ins) for v in value]
    if isinstance(value, dict):
        return {k: _marked(v, stand_ins) for k, v in value.items()}
    return value


def _in_order(synthesis: Synthesis) -> list[Recorded]:
    """Resources by type and name: the SDK registers them in whatever order its tasks finish."""
    return sorted(synthesis.resources, key=lambda r: (r.type, r.name))


def stand_ins_for(cloud: str | None) -> dict[str, str]:
    return dict(target(cloud).mocks.stand_ins) if cloud in TARGETS else {}


def as_json(
    synthesis: Synthesis, stack: str, cloud: str | None, source: Path | None = None
) -> dict[str, Any]:
    """The plan as data; stable between identical runs (sorted), so two plans diff cleanly."""
    key_settings = key_settings_for(cloud)
    stand_ins = stand_ins_for(cloud)
    names = {r.urn: r.name for r in synthesis.resources}
    return {
        "stack": stack,
        "cloud": cloud,
        "config_file": str(source) if source is not None else None,
        "mocked": {"note": MOCK_NOTE, "stand_ins": stand_ins},
        "notes": synthesis.notes,
        "resources": [
            {
                "type": r.type,
                "name": r.name,
                "parent": names.get(r.parent),
                "id": f"{r.id} (mock)" if r.id and r.custom else None,
                "settings": _marked(_integral(settings_of(r, key_settings)), stand_ins),
                "inputs": _marked(_integral(r.inputs), stand_ins),
            }
            for r in _in_order(synthesis)
        ],
        "outputs": _marked(synthesis.outputs, stand_ins),
    }


def as_tree(synthesis: Synthesis, stack: str, cloud: str | None, source: Path | None = None) -> Tree:
    key_settings = key_settings_for(cloud)
    stand_ins = stand_ins_for(cloud)
    origin = f" from {source}" if source is not None else ""
    root = Tree(
        f"[bold]stack {escape(stack)}[/] [dim]({escape(str(cloud))}, {len(synthesis.resources)} resources"
        f"{escape(origin)})[/]\n[dim]{escape(MOCK_NOTE)}[/]"
    )
    nodes: dict[str, Tree] = {}
    known = {r.urn for r in synthesis.resources}
    # Parents first (a component before its children), then by type and name.
    for r in sorted(_in_order(synthesis), key=lambda r: r.parent in known):
        parent = nodes.get(r.parent) if r.parent in known else root
        label = f"[bold cyan]{escape(r.name)}[/] [dim]{escape(r.type)}[/]"
        settings = _marked(settings_of(r, key_settings), stand_ins)
        if settings:
            label += "\n" + "\n".join(f"[green]{escape(k)}[/]={escape(show(v))}" for k, v in settings.items())
        nodes[r.urn] = (parent or root).add(label)
    for note in synthesis.notes:
        root.add(f"[yellow]{escape(note)}[/]")
    outputs = root.add("[bold]outputs[/]" + ("" if synthesis.outputs else f" {KNOWN_AFTER_APPLY}"))
    for key, value in sorted(synthesis.outputs.items()):
        outputs.add(f"[green]{escape(key)}[/]={escape(show(_marked(value, stand_ins)))}")
    return root


def plan(
    stack: Annotated[
        str, typer.Option("--stack", "-s", help="stack name: reads Pulumi.<stack>.yaml", metavar="STACK")
    ] = "dev",
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="a stack config file to plan instead of --stack", metavar="CONFIG"
        ),
    ] = None,
    as_json_output: Annotated[bool, typer.Option("--json", help="print the plan as JSON")] = False,
    preview: Annotated[
        bool, typer.Option("--preview", help="as pulumi preview of a new stack: computed values unknown")
    ] = False,
) -> None:
    """Show the resources a stack would create and their key settings, offline (Pulumi mocks)."""
    require_extra("infra", "plan")
    from agentfleet.components.problems import ConfigError

    err = Console(stderr=True, soft_wrap=True)
    try:
        path = config if config is not None else find_stack_file(stack)
        engine_config = load_config(path)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        err.print(escape(str(exc)))
        raise typer.Exit(2) from None
    cloud = engine_config.get("agentfleet:cloud")
    if config is not None:
        # Name the plan after the file: Pulumi.prod.yaml -> "prod", fleet.yaml -> "fleet".
        stack = config.name.removeprefix("Pulumi.").removesuffix(".yaml").removesuffix(".yml") or stack
    try:
        from agentfleet.synth import synthesize

        synthesis = synthesize(engine_config, stack=stack, preview=preview)
    except ConfigError as exc:
        err.print(escape(str(exc)))
        raise typer.Exit(2) from None
    if as_json_output:
        print(json.dumps(as_json(synthesis, stack, cloud, path), indent=2, sort_keys=True, default=str))
    else:
        Console().print(as_tree(synthesis, stack, cloud, path))
