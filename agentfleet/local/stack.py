"""Where the local fleet gets its config, and where it keeps its files.

The local fleet reads the same `agentfleet:fleet` object the clouds are configured from — a
Pulumi stack file (`Pulumi.<stack>.yaml`, or `stacks/<stack>.yaml` for stacks that only make
sense locally) or any YAML file with that key — and validates it with the same `parse_fleet`.
Cloud-only settings (image, instance sizes, the cloud itself) are read but not used: locally the
agent is this machine's Python running the same runtime.

Everything the fleet keeps lives under one state directory, so two fleets never share a queue and
`rm -rf` of that directory is a full reset.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agentfleet.agent import contract
from agentfleet.components.environment import agent_environment
from agentfleet.components.problems import ConfigError, ConfigProblem
from agentfleet.components.schema import FleetConfig, SecretReference
from agentfleet.components.validation import parse_fleet

FLEET_KEY = "agentfleet:fleet"
FLEETS_KEY = "agentfleet:fleets"
#: Where `local up`, `send` and `status` meet unless told otherwise.
DEFAULT_STATE_DIR = Path(".agentfleet") / "local"
#: Stacks that ship with the package (the demo's), found when the current directory has none.
BUILTIN_STACKS = Path(__file__).resolve().parent / "stacks"


def stack_file(stack: str, search: list[Path] | None = None) -> Path:
    """`Pulumi.<stack>.yaml` or `stacks/<stack>.yaml` in the current directory, else a built-in stack."""
    roots = search if search is not None else [Path.cwd()]
    tried: list[Path] = []
    candidates = [
        c for root in roots for c in (root / f"Pulumi.{stack}.yaml", root / "stacks" / f"{stack}.yaml")
    ]
    if search is None:
        candidates.append(BUILTIN_STACKS / f"{stack}.yaml")
    for candidate in candidates:
        tried.append(candidate)
        if candidate.is_file():
            return candidate
    raise ConfigError(
        [ConfigProblem("stack", stack, "has no config file; looked for " + ", ".join(str(p) for p in tried))]
    )


def load_config_file(path: Path, fleet: str | None = None) -> FleetConfig:
    """Read `agentfleet:fleet`, or the item of `agentfleet:fleets` named `fleet` (the only one when
    there is one), from a stack-style YAML file and validate it (ConfigError names the field)."""
    try:
        doc: Any = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError([ConfigProblem("config", str(path), f"cannot be read: {exc.strerror}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigProblem("config", str(path), f"is not valid YAML: {exc}")]) from None
    section = doc.get("config") if isinstance(doc, dict) else None
    if isinstance(section, dict) and isinstance(section.get(FLEETS_KEY), list):
        return _one_of(section[FLEETS_KEY], fleet, path)
    if not isinstance(section, dict) or FLEET_KEY not in section:
        raise ConfigError(
            [
                ConfigProblem(
                    "config", str(path), f"must have config: {FLEET_KEY}: {{...}} (or {FLEETS_KEY}: [...])"
                )
            ]
        )
    config = parse_fleet(section[FLEET_KEY])
    if fleet is not None and fleet != config.name:
        raise ConfigError(
            [ConfigProblem("--fleet", fleet, f"is not in {path}: its one fleet is {config.name!r}")]
        )
    return config


def _one_of(items: list[Any], fleet: str | None, path: Path) -> FleetConfig:
    """The local fleet runs one fleet at a time: the one named, or the only one."""
    names = [item.get("name") if isinstance(item, dict) else None for item in items]
    if fleet is None:
        if len(items) != 1:
            listed = ", ".join(str(n) for n in names)
            raise ConfigError(
                [
                    ConfigProblem(
                        "--fleet", None, f"must name one of the {len(items)} fleets in {path} ({listed})"
                    )
                ]
            )
        index = 0
    elif fleet in names:
        index = names.index(fleet)
    else:
        listed = ", ".join(str(n) for n in names)
        raise ConfigError([ConfigProblem("--fleet", fleet, f"is not in {path} (its fleets: {listed})")])
    return parse_fleet(items[index], f"fleets[{index}]")


def load_fleet(stack: str | None, config_file: Path | None, fleet: str | None = None) -> FleetConfig:
    """The fleet config from `--config FILE`, else `--stack NAME` (default stack: `dev`); `fleet`
    picks one of several (`agentfleet:fleets`)."""
    if config_file is not None:
        return load_config_file(config_file, fleet)
    return load_config_file(stack_file(stack or "dev"), fleet)


@dataclass(frozen=True)
class LocalPaths:
    """The files of one local fleet: queue, state, bucket, agent logs and the live fleet status."""

    root: Path

    @property
    def queue(self) -> Path:
        return self.root / "queue.db"

    @property
    def state(self) -> Path:
        return self.root / "state.db"

    @property
    def bucket(self) -> Path:
        return self.root / "bucket"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def status(self) -> Path:
        """Written by `local up` every tick, read by `local status`."""
        return self.root / "fleet.json"

    def create(self) -> LocalPaths:
        for d in (self.root, self.bucket, self.logs):
            d.mkdir(parents=True, exist_ok=True)
        return self


def local_environment(
    config: FleetConfig, paths: LocalPaths, port: int, handler: str | None
) -> dict[str, str]:
    """The env contract for one local agent: the clouds' common variables + SQLite files + its port."""
    env = agent_environment(config)
    env.update(
        {
            contract.BACKEND: "sqlite",
            contract.QUEUE: str(paths.queue.resolve()),
            contract.DEAD_LETTER_QUEUE: "",
            contract.STATE: str(paths.state.resolve()),
            contract.BUCKET: str(paths.bucket.resolve()),
            contract.PORT: str(port),
            contract.HEALTH_HOST: "127.0.0.1",  # only the supervisor on this machine probes it
            contract.LIFECYCLE: "none",
        }
    )
    env.update(local_secrets(config, os.environ))
    chosen = handler or config.agent.handler
    if not chosen:
        raise ConfigError(
            [ConfigProblem("fleet.agent.handler", None, "must be set (or pass --handler module:function)")]
        )
    env[contract.HANDLER] = chosen
    return env


def local_secrets(config: FleetConfig, operator_env: Mapping[str, str]) -> dict[str, str]:
    """`agent.secrets` for agents on this machine, which has no cloud secret store to read from:
    a value written in a local stack file goes to the agent as it is; one the local fleet cannot
    read (encrypted in a Pulumi stack file, or a `{ref}` to a cloud's store) is taken from the
    operator's own environment, and is otherwise a one-line error naming it."""
    values: dict[str, str] = {}
    missing: list[ConfigProblem] = []
    for name, source in config.agent.secrets.items():
        if isinstance(source, str):
            values[name] = source
        elif name in operator_env:
            values[name] = operator_env[name]
        else:
            what = (
                "a reference to a cloud secret store" if isinstance(source, SecretReference) else "encrypted"
            )
            missing.append(
                ConfigProblem(
                    f"fleet.agent.secrets.{name}",
                    None,
                    f"is {what}, which the local fleet cannot read: export {name}=... in the shell "
                    "that runs agentfleet local",
                )
            )
    if missing:
        raise ConfigError(missing)
    return values


def python_path_with(*dirs: Path) -> str:
    """PYTHONPATH for agents: the caller's directory first, so `--handler mymod:fn` imports from there."""
    parts = [str(d.resolve()) for d in dirs]
    existing = os.environ.get("PYTHONPATH")
    if existing:
        parts.append(existing)
    return os.pathsep.join(parts)
