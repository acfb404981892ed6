"""Helpers for infrastructure tests: build a stack config and synthesize it under mocks."""

from __future__ import annotations

import base64
import binascii
import copy
import gzip
import json
from typing import Any

from agentfleet.synth import Synthesis, synthesize

BASE_FLEET: dict[str, Any] = {
    "name": "moodring",
    "agent": {"image": "ghcr.io/acme/moodring-agent:1.4.2", "handler": "moodring.agent:handle"},
}

REGION_KEYS = {
    "aws": {"aws:region": "us-east-1"},
    "azure": {"azure-native:location": "westeurope"},
    "gcp": {"gcp:project": "acme-agents", "gcp:region": "europe-west1"},
}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def stack_config(cloud: str, fleet: dict[str, Any] | None = None, **extra: str) -> dict[str, str]:
    """Engine-form config for `cloud` with BASE_FLEET deep-merged with `fleet`."""
    merged = deep_merge(BASE_FLEET, fleet or {})
    config = {"agentfleet:cloud": cloud, "agentfleet:fleet": json.dumps(merged), **REGION_KEYS.get(cloud, {})}
    config.update(extra)
    return config


def synth(
    cloud: str, fleet: dict[str, Any] | None = None, *, preview: bool = False, **extra: str
) -> Synthesis:
    return synthesize(stack_config(cloud, fleet, **extra), preview=preview)


def fleets_stack_config(cloud: str, fleets: list[dict[str, Any]], **extra: str) -> dict[str, str]:
    """Engine-form config with `agentfleet:fleets`: each item BASE_FLEET deep-merged with it."""
    items = [deep_merge(BASE_FLEET, fleet) for fleet in fleets]
    config = {"agentfleet:cloud": cloud, "agentfleet:fleets": json.dumps(items), **REGION_KEYS.get(cloud, {})}
    config.update(extra)
    return config


def synth_fleets(
    cloud: str, fleets: list[dict[str, Any]], *, preview: bool = False, **extra: str
) -> Synthesis:
    return synthesize(fleets_stack_config(cloud, fleets, **extra), preview=preview)


def plaintext_holders(synthesis: Synthesis, value: str) -> list[str]:
    """Where `value` appears in plain text: every registered resource's inputs (a Pulumi secret is
    recorded as `[secret]`, so only an unmarked copy shows), every invoke's arguments and the stack
    outputs, each also searched inside every base64 string it holds (EC2 user data, Azure custom
    data and userData travel base64-encoded). A secret's value must appear nowhere."""

    def holds(data: Any) -> bool:
        return any(value in text for text in _texts(data))

    holders = [f"{r.type} {r.name}" for r in synthesis.resources if holds(r.inputs)]
    holders += [f"invoke {token}" for token, args in synthesis.invokes if holds(args)]
    if holds(synthesis.outputs):
        holders.append("stack outputs")
    return holders


def _texts(data: Any) -> list[str]:
    """Every string in `data`, and the decoded text of each that is base64 (gzip inside too)."""
    found: list[str] = []
    if isinstance(data, dict):
        for key, item in data.items():
            found += [str(key), *_texts(item)]
    elif isinstance(data, list | tuple):
        for item in data:
            found += _texts(item)
    elif isinstance(data, str):
        found.append(data)
        decoded = _base64_text(data)
        if decoded is not None:
            found.append(decoded)
    elif data is not None:
        found.append(str(data))
    return found


def _base64_text(text: str) -> str | None:
    if len(text) < 8 or len(text) % 4:
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8", errors="replace")
