"""Shared helpers for the GCP infrastructure tests: cached syntheses and manifest rendering."""

from __future__ import annotations

import functools
import json
from typing import Any

from agentfleet.synth import Recorded, Synthesis
from tests.infra.helpers import synth

PROJECT = "acme-agents"
REGION = "europe-west1"


@functools.lru_cache(maxsize=16)
def _cached(fleet_json: str, preview: bool) -> Synthesis:
    return synth("gcp", json.loads(fleet_json), preview=preview)


def gcp_synth(fleet: dict[str, Any] | None = None, *, preview: bool = False) -> Synthesis:
    """One synthesis per distinct fleet override (the tests only read it)."""
    return _cached(json.dumps(fleet or {}, sort_keys=True), preview)


def integral(value: Any) -> Any:
    """Numbers come back from the mock monitor as floats; a manifest has integers where integral."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [integral(v) for v in value]
    return value


def manifest(resource: Recorded) -> dict[str, Any]:
    """The Kubernetes object a kubernetes:* resource's recorded inputs describe."""
    body = integral(resource.inputs)
    assert "apiVersion" in body and "kind" in body, f"{resource.name} has no apiVersion/kind"
    return body


def env_of(deployment: Recorded) -> dict[str, str]:
    """The container's literal environment (variables from the downward API are left out)."""
    container = deployment.inputs["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def container_of(deployment: Recorded) -> dict[str, Any]:
    return integral(deployment.inputs["spec"]["template"]["spec"]["containers"][0])
