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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agentfleet.agent import contract
from agentfleet.components.environment import agent_environment
from agentfleet.components.problems import ConfigError, ConfigProblem
from agentfleet.components.schema import FleetConfig
from agentfleet.components.validation import parse_fleet

FLEET_KEY = "agentfleet:fleet"
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


def load_config_file(path: Path) -> FleetConfig:
    """Read `agentfleet:fleet` from a stack-style YAML file and validate it (ConfigError names the field)."""
    try:
        doc: Any = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError([ConfigProblem("config", str(path), f"cannot be read: {exc.strerror}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigProblem("config", str(path), f"is not valid YAML: {exc}")]) from None
    section = doc.get("config") if isinstance(doc, dict) else None
    if not isinstance(section, dict) or FLEET_KEY not in section:
        raise ConfigError([ConfigProblem("config", str(path), f"must have config: {FLEET_KEY}: {{...}}")])
    return parse_fleet(section[FLEET_KEY])


def load_fleet(stack: str | None, config_file: Path | None) -> FleetConfig:
    """The fleet config from `--config FILE`, else `--stack NAME` (default stack: `dev`)."""
    if config_file is not None:
        return load_config_file(config_file)
    return load_config_file(stack_file(stack or "dev"))


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
    chosen = handler or config.agent.handler
    if not chosen:
        raise ConfigError(
            [ConfigProblem("fleet.agent.handler", None, "must be set (or pass --handler module:function)")]
        )
    env[contract.HANDLER] = chosen
    return env


def python_path_with(*dirs: Path) -> str:
    """PYTHONPATH for agents: the caller's directory first, so `--handler mymod:fn` imports from there."""
    parts = [str(d.resolve()) for d in dirs]
    existing = os.environ.get("PYTHONPATH")
    if existing:
        parts.append(existing)
    return os.pathsep.join(parts)
