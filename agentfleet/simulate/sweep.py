"""`--sweep KEY=a:b:step`: one numeric fleet key over a range; the cheapest point within the SLO."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from agentfleet.components.problems import ConfigError, ConfigProblem
from agentfleet.components.schema import FleetConfig


def parse(spec: str) -> tuple[str, list[float]]:
    """`scaling.target_backlog_per_agent=5:50:5` -> (key, [5, 10, ..., 50])."""
    key, _, rng = spec.partition("=")
    parts = rng.split(":")
    try:
        start, stop, step = (float(p) for p in parts)
    except ValueError:
        raise ConfigError(
            [ConfigProblem("--sweep", spec, "must be KEY=start:stop:step with numbers")]
        ) from None
    if step <= 0 or stop < start:
        raise ConfigError([ConfigProblem("--sweep", spec, "must have step > 0 and stop >= start")])
    values, v = [], start
    while v <= stop + 1e-9:
        values.append(round(v, 9))
        v += step
    return key.strip(), values


def with_value(config: FleetConfig, key: str, value: float) -> FleetConfig:
    """`config` with the dotted fleet key set to `value`, validated like the stack file would be."""
    section_name, _, field = key.partition(".")
    section = getattr(config, section_name, None)
    if not isinstance(section, BaseModel) or field not in type(section).model_fields:
        raise ConfigError(
            [ConfigProblem("--sweep", key, "must name a numeric fleet key such as scaling.max_agents")]
        )
    current = getattr(section, field)
    if isinstance(current, bool) or not isinstance(current, int | float):
        raise ConfigError([ConfigProblem("--sweep", key, "must name a numeric fleet key")])
    typed = int(value) if isinstance(current, int) else float(value)
    try:
        checked = type(section).model_validate({**section.model_dump(), field: typed})
    except ValidationError as e:
        raise ConfigError([ConfigProblem(f"fleet.{key}", typed, e.errors()[0]["msg"])]) from None
    return config.model_copy(update={section_name: checked})
