"""Which model simulates which target: the registry's clouds, plus the local fleet."""

from __future__ import annotations

import importlib

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
