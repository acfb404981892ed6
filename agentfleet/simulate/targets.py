"""Which model simulates which target: the registry's clouds, plus the local fleet."""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.problems import ConfigError, ConfigProblem
from agentfleet.components.schema import FleetConfig
from agentfleet.components.simulation import AutoscalerModel, ModelFactory
from agentfleet.providers import TARGETS, target
from agentfleet.simulate import local_model

LOCAL = "local"


def names() -> list[str]:
    return [*TARGETS, LOCAL]


def factory(name: str) -> ModelFactory:
    """The model factory a target registers (`Target.simulation`), or the local fleet's."""
    if name == LOCAL:
        return local_model.model
    if name not in TARGETS:
        raise ConfigError([ConfigProblem("--target", name, f"must be one of {', '.join(names())}")])
    module, _, attribute = target(name).simulation.partition(":")
    made: ModelFactory = getattr(importlib.import_module(module), attribute)
    return made


def build(name: str, config: FleetConfig) -> AutoscalerModel:
    return factory(name)(config, ScalingPolicy.from_config(config))


def with_timings(made: ModelFactory, overrides: list[str]) -> ModelFactory:
    """`made`, with fields of its model's timings set from NAME=VALUE (`--timing`).

    Every model keeps its timings in `timings` (a frozen dataclass) and takes them as its third
    argument, so a model is rebuilt with the changed copy.
    """
    if not overrides:
        return made

    def build_with(config: FleetConfig, policy: ScalingPolicy) -> AutoscalerModel:
        model = made(config, policy)
        timings = model.timings  # type: ignore[attr-defined]
        changed = dataclasses.replace(timings, **_parse_timings(timings, overrides))
        rebuilt: AutoscalerModel = type(model)(config, policy, changed)  # type: ignore[call-arg]
        return rebuilt

    return build_with


def _parse_timings(timings: Any, overrides: list[str]) -> dict[str, Any]:
    fields = {f.name: str(f.type) for f in dataclasses.fields(timings)}
    allowed = f"must be NAME=VALUE, NAME one of {', '.join(fields)}"
    out: dict[str, Any] = {}
    for spec in overrides:
        key, sep, raw = spec.partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or key not in fields:
            raise ConfigError([ConfigProblem("--timing", spec, allowed)])
        kind = fields[key]
        try:
            if kind.startswith("bool"):
                if raw.lower() not in ("true", "false"):
                    raise ValueError(raw)
                out[key] = raw.lower() == "true"
            elif kind.startswith("int"):
                out[key] = int(raw)
            else:
                out[key] = float(raw)
        except ValueError:
            raise ConfigError(
                [ConfigProblem("--timing", spec, f"must give {key} a value of type {kind}")]
            ) from None
    return out
