"""The whole check the program runs first: the neutral keys, every target's section, the chosen
target's limits — every problem reported at once, before a resource is registered.

This module sits above the providers (it reads the registry); the neutral model below it
(components/schema.py) knows no target. A config with neutral problems is still checked against
the target's limits, with the bad values left out and required keys stood in for, so a user sees
every problem in one run instead of fixing them in rounds.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from agentfleet.agent.contract import SECRET_REFERENCE_FORMS, SECRET_REFERENCES
from agentfleet.components.problems import MISSING, ConfigError, ConfigProblem, problems_from
from agentfleet.components.schema import NAME_PATTERN, NAME_RULE, FleetConfig, SecretReference, TargetSettings
from agentfleet.providers import TARGETS, Target, target

#: Stand-ins for required keys, used only to check the target's limits of an otherwise broken config.
_PLACEHOLDERS: dict[str, Any] = {"name": "placeholder", "agent": {"image": "placeholder"}}


NAMESPACE = "agentfleet"
#: The keys of the `agentfleet` config namespace the program reads.
STACK_KEYS = ("cloud", "fleet", "fleets", "network")


def structured(value: Any) -> Any:
    """A structured config value as the engine hands it over (a JSON string), opened; anything
    that is not JSON as it is, for the checks to name."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def read_stack_keys(config: Mapping[str, Any]) -> tuple[str | None, Any]:
    """`agentfleet:cloud` and the `agentfleet:fleet` object from a stack's whole config.

    `config` maps full keys (`agentfleet:fleet`) to what the engine holds: a string, or a JSON
    string for a structured value. Unknown `agentfleet:*` keys are errors that name the closest
    known key; a key like `agentfleet:fleet.name` is what `pulumi config set` without `--path`
    writes, and the error says so.
    """
    problems: list[ConfigProblem] = []
    for key in sorted(config):
        namespace, _, name = key.partition(":")
        if namespace != NAMESPACE or name in STACK_KEYS:
            continue
        head = name.split(".", 1)[0].split("[", 1)[0]
        if head in STACK_KEYS and head != name:
            hint = (
                f"is not a key: to set a field of {NAMESPACE}:{head}, "
                f"run pulumi config set --path '{key}' VALUE"
            )
        else:
            close = difflib.get_close_matches(name, STACK_KEYS, n=1)
            hint = "is not a known key" + (f"; did you mean {NAMESPACE}:{close[0]}?" if close else "")
            hint += f" ({', '.join(f'{NAMESPACE}:{k}' for k in STACK_KEYS)} are)"
        problems.append(ConfigProblem(key, None, hint))
    cloud = config.get(f"{NAMESPACE}:cloud")
    raw = structured(config.get(f"{NAMESPACE}:fleet"))  # a plain string: "must be an object" below
    if problems:
        try:
            load_fleet_config(cloud, raw)
        except ConfigError as exc:
            problems += [p for p in exc.problems if p.field not in ("cloud", "fleet") or p.value is not None]
        raise ConfigError(problems)
    return cloud, raw


def parse_fleet(raw: Any, prefix: str = "fleet") -> FleetConfig:
    """Validate a raw `agentfleet:fleet` object and every target section in it; no target's limits."""
    if raw is None:
        raise ConfigError(
            [ConfigProblem(prefix, MISSING, f"must be set: add an {NAMESPACE}:fleet object to the config")]
        )
    if not isinstance(raw, Mapping):
        raise ConfigError(
            [ConfigProblem(prefix, raw, "must be an object with name, agent, queue, scaling, ...")]
        )
    problems: list[ConfigProblem] = []
    neutral = {k: v for k, v in raw.items() if k not in TARGETS}
    if "targets" in neutral:
        problems.append(ConfigProblem(f"{prefix}.targets", neutral.pop("targets"), _unknown_key()))
    sections, section_problems = _target_sections(raw, prefix)
    problems += section_problems
    try:
        fleet = FleetConfig.model_validate(neutral)
    except ValidationError as exc:
        problems = problems_from(exc, prefix) + problems
    if problems:
        raise ConfigError(problems)
    return fleet.model_copy(update={"targets": sections})


def check_cloud(cloud: str | None) -> Target:
    """The registered target named by `agentfleet:cloud`, or a ConfigError listing them."""
    if cloud not in TARGETS:
        raise ConfigError([_cloud_problem(cloud)])
    return target(cloud)


def validate_for_cloud(cloud: str | None, fleet: FleetConfig) -> None:
    """Apply the chosen target's limits (no SDK is imported for this)."""
    problems = check_cloud(cloud).validate(fleet) + _reference_problems(cloud, fleet)
    if problems:
        raise ConfigError(problems)


def _reference_problems(cloud: str | None, fleet: FleetConfig) -> list[ConfigProblem]:
    """A `{ref: ...}` the chosen cloud's agents could not read (another cloud's reference)."""
    shape = SECRET_REFERENCES.get(cloud or "")
    if shape is None:
        return []
    return [
        ConfigProblem(
            f"fleet.agent.secrets.{name}.ref",
            ref,
            f"must be a reference to this cloud's secret store: {SECRET_REFERENCE_FORMS[cloud or '']}",
        )
        for name, source in fleet.agent.secrets.items()
        if isinstance(source, SecretReference) and not re.match(shape, ref := source.ref)
    ]


def load_fleet_config(cloud: str | None, raw: Any, where: str = "fleet") -> FleetConfig:
    """Neutral rules, every section, then the chosen target's limits: one ConfigError for all.

    `where` is the config path the problems name (`fleets[1]` for an item of `agentfleet:fleets`)."""
    if where != "fleet":
        try:
            return load_fleet_config(cloud, raw)
        except ConfigError as exc:
            raise ConfigError(_moved(exc.problems, where)) from None
    problems: list[ConfigProblem] = []
    if cloud not in TARGETS:
        problems.append(_cloud_problem(cloud))
    try:
        fleet = parse_fleet(raw)
    except ConfigError as exc:
        problems += exc.problems
        if cloud in TARGETS and isinstance(raw, Mapping):
            problems += _target_problems_despite(target(cloud), raw, exc.problems)
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    validate_for_cloud(cloud, fleet)
    return fleet


def load_stack_fleets(config: Mapping[str, Any]) -> tuple[str, list[FleetConfig]]:
    """`agentfleet:cloud` and every fleet of the stack: `agentfleet:fleet` (one) or
    `agentfleet:fleets` (a list of the same objects), each validated; one ConfigError for all."""
    fleets_raw = structured(config.get(f"{NAMESPACE}:fleets"))
    if fleets_raw is None:
        if f"{NAMESPACE}:network" in config:
            alone = "names the network several fleets share: it applies only with agentfleet:fleets"
            raise ConfigError([ConfigProblem(f"{NAMESPACE}:network", config[f"{NAMESPACE}:network"], alone)])
        cloud, raw = read_stack_keys(config)
        fleet = load_fleet_config(cloud, raw)
        assert cloud is not None  # load_fleet_config refuses a missing cloud
        return cloud, [fleet]
    rest = {k: v for k, v in config.items() if k not in (f"{NAMESPACE}:fleets", f"{NAMESPACE}:network")}
    problems: list[ConfigProblem] = []
    if f"{NAMESPACE}:fleet" in rest:
        problems.append(
            ConfigProblem(
                f"{NAMESPACE}:fleet",
                None,
                f"is set together with {NAMESPACE}:fleets: move that fleet into the list, or keep one key",
            )
        )
    rest[f"{NAMESPACE}:fleet"] = {}  # read the other keys with a stand-in for the fleet
    try:
        cloud, _ = read_stack_keys(rest)
    except ConfigError as exc:
        problems += [p for p in exc.problems if not p.field.startswith("fleet")]
        cloud = rest.get(f"{NAMESPACE}:cloud")
    if not isinstance(fleets_raw, list) or not fleets_raw:
        problems.append(
            ConfigProblem(
                "fleets", fleets_raw, "must be a non-empty list of fleet objects (each like agentfleet:fleet)"
            )
        )
        raise ConfigError(problems)
    fleets: list[FleetConfig] = []
    for i, raw in enumerate(fleets_raw):
        try:
            fleets.append(load_fleet_config(cloud, raw, f"fleets[{i}]"))
        except ConfigError as exc:
            problems += [p for p in exc.problems if p not in problems]
    seen: dict[str, int] = {}
    for i, fleet in enumerate(fleets):
        if fleet.name in seen:
            problems.append(
                ConfigProblem(
                    f"fleets[{i}].name",
                    fleet.name,
                    f"is also the name of fleets[{seen[fleet.name]}]: resource names derive from it, "
                    "so every fleet needs its own",
                )
            )
        seen.setdefault(fleet.name, i)
    if problems:
        raise ConfigError(problems)
    assert cloud is not None
    return cloud, fleets


#: The name of the network the fleets of `agentfleet:fleets` share, unless `agentfleet:network` names it.
DEFAULT_NETWORK = "shared"


def shared_network_name(config: Mapping[str, Any], fleets: list[FleetConfig]) -> str:
    """`agentfleet:network`: the name of the `FleetNetwork` several fleets share, from which its cloud
    names derive. Two multi-fleet stacks in one account, subscription or project need different
    ones, as their fleets need different names."""
    key = f"{NAMESPACE}:network"
    name = config.get(key, DEFAULT_NETWORK)
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ConfigError([ConfigProblem(key, name, NAME_RULE)])
    taken = [i for i, fleet in enumerate(fleets) if fleet.name == name]
    if taken:
        raise ConfigError(
            [
                ConfigProblem(
                    key,
                    name,
                    f"is also the name of fleets[{taken[0]}]: their cloud names would collide; name the "
                    f"network otherwise (pulumi config set {key} NAME)",
                )
            ]
        )
    return name


def _moved(problems: list[ConfigProblem], where: str) -> list[ConfigProblem]:
    """Problems of a `fleet.…` path, named at `where` instead (`fleets[1].…`); others unchanged."""
    out = []
    for p in problems:
        if p.field == "fleet" or p.field.startswith("fleet."):
            p = ConfigProblem(where + p.field.removeprefix("fleet"), p.value, p.allowed)
        out.append(p)
    return out


def _cloud_problem(cloud: str | None) -> ConfigProblem:
    if cloud is None:
        allowed = ", ".join(TARGETS)
        how = f"pulumi config set {NAMESPACE}:cloud {next(iter(TARGETS))}"
        return ConfigProblem("cloud", MISSING, f"must be set to one of {allowed}: {how}")
    return ConfigProblem("cloud", cloud, f"must be one of {', '.join(TARGETS)} (set agentfleet:cloud)")


def _unknown_key() -> str:
    return "is not a known key (check its spelling against docs/configuration.md)"


def _target_sections(
    raw: Mapping[str, Any], prefix: str
) -> tuple[dict[str, TargetSettings], list[ConfigProblem]]:
    """Every registered target's section, validated by its own model (absent ones at defaults)."""
    sections: dict[str, TargetSettings] = {}
    problems: list[ConfigProblem] = []
    for name in TARGETS:
        model = target(name).settings
        given = raw.get(name, {})
        if not isinstance(given, Mapping):
            problems.append(ConfigProblem(f"{prefix}.{name}", given, "must be an object"))
            continue
        try:
            sections[name] = model.model_validate(dict(given))
        except ValidationError as exc:
            problems += problems_from(exc, f"{prefix}.{name}")
    return sections, problems


def _target_problems_despite(
    chosen: Target, raw: Mapping[str, Any], known: list[ConfigProblem]
) -> list[ConfigProblem]:
    """The target's limits on the valid part of a config that has problems of its own."""
    cleaned = _without(raw, {p.field.removeprefix("fleet.") for p in known})
    for key, value in _PLACEHOLDERS.items():
        if isinstance(value, dict):
            section = cleaned.setdefault(key, {})
            if isinstance(section, dict):
                for k, v in value.items():
                    section.setdefault(k, v)
        else:
            cleaned.setdefault(key, value)
    try:
        fleet = parse_fleet(cleaned)
    except ConfigError:
        return []
    reported = {p.field for p in known}
    return [p for p in chosen.validate(fleet) if p.field not in reported]


def _without(raw: Mapping[str, Any], paths: set[str], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        path = f"{prefix}{key}"
        if path in paths:
            continue
        out[key] = _without(value, paths, f"{path}.") if isinstance(value, Mapping) else value
    return out
