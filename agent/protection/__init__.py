"""`open_protector(env, registry)`: the busy-agent protection for AGENTFLEET_PROTECTION.

none -> a Protector that only reports busy/idle; local -> agent.protection.local;
aws-asg -> agent.protection.aws; azure-vmss -> agent.protection.azure;
kubernetes-pod -> agent.protection.kubernetes (imported lazily: only the chosen cloud's SDK loads).
Each cloud module exposes `from_settings(settings) -> ProtectionBackend`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from agentfleet.agent import contract as c
from agentfleet.agent.protection.base import ProtectionBackend, ProtectionError, Protector, Throttled
from agentfleet.agent.protection.local import LocalProtection
from agentfleet.agent.settings import SettingsError

BACKEND_MODULES = {"aws-asg": "aws", "azure-vmss": "azure", "kubernetes-pod": "kubernetes"}

__all__ = [
    "LocalProtection",
    "ProtectionBackend",
    "ProtectionError",
    "ProtectionSettings",
    "Protector",
    "Throttled",
    "open_protector",
]


@dataclass(frozen=True)
class ProtectionSettings:
    """The contract's protection variables, checked like agent/settings.py checks the others."""

    kind: str = "none"
    group: str = ""
    region: str = ""
    pod_name: str = ""
    pod_namespace: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ProtectionSettings:
        def text(name: str) -> str:
            return env.get(name, "").strip()

        kind = text(c.PROTECTION) or "none"
        problems: list[str] = []
        if kind not in c.PROTECTIONS:
            problems.append(
                f"agentfleet: {c.PROTECTION}={kind!r} is unknown; choose one of {', '.join(c.PROTECTIONS)}"
            )
        needs = {"aws-asg": (c.GROUP,), "kubernetes-pod": (c.POD_NAME, c.POD_NAMESPACE)}.get(kind, ())
        for name in needs:
            if not text(name):
                problems.append(f"agentfleet: {name} is not set; {c.PROTECTION}={kind} needs it")
        if problems:
            raise SettingsError(problems)
        return cls(kind, text(c.GROUP), text(c.REGION), text(c.POD_NAME), text(c.POD_NAMESPACE))


def open_protector(env: Mapping[str, str], registry: CollectorRegistry) -> Protector:
    """The protector layer for this environment (SettingsError names a bad variable)."""
    settings = ProtectionSettings.from_env(env)
    backend: ProtectionBackend | None = None
    if settings.kind == "local":
        backend = LocalProtection()
    elif settings.kind in BACKEND_MODULES:
        module = importlib.import_module(f"agentfleet.agent.protection.{BACKEND_MODULES[settings.kind]}")
        backend = module.from_settings(settings)
    return Protector(backend, registry)
