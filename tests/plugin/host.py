"""Runs what needs Pulumi's provider package in a process of its own, printing JSON.

`pulumi.provider` registers its own copy of `google.rpc.Status` in protobuf's default pool; the
Google Cloud SDKs register googleapis' copy, and whichever loads second fails ("duplicate symbol
'google.rpc.Status'"). The plugin runs alone in its process, so only the tests must keep the two
apart: `tests/plugin/helpers.py` runs `python -m tests.plugin.host CHECK ARG` and reads the result.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pulumi

from agentfleet.components.fleet import TYPE_TOKEN
from agentfleet.synth import synthesize_program
from tests.infra.helpers import REGION_KEYS


def schema(_: Any) -> Any:
    from agentfleet.plugin import schema

    return schema()


def construct(arg: dict[str, Any]) -> Any:
    """What the host does for another language's program, once per entry of `arg["runs"]` (each a
    new engine connection, as each construct call is), with the engine's camelCase inputs."""
    from pulumi.errors import InputPropertiesError
    from pulumi.provider.experimental import host

    from agentfleet.plugin import FleetProvider

    host.is_hosting = bool(arg.get("hosting"))
    results = []
    for run in arg["runs"]:

        def program(run: dict[str, Any] = run) -> None:
            FleetProvider().construct(run["name"], TYPE_TOKEN, run["inputs"], pulumi.ResourceOptions())

        cloud = run["inputs"].get("cloud", "aws")
        try:
            s = synthesize_program(
                program, dict(REGION_KEYS[cloud]), cloud=cloud, preview=run.get("preview", False)
            )
        except InputPropertiesError as exc:
            results.append({"error": exc.message, "properties": exc.errors})
            continue
        resources = [
            {"urn": r.urn, "type": r.type, "name": r.name, "parent": r.parent, "inputs": r.inputs}
            for r in s.resources
        ]
        results.append({"resources": resources})
    return results


CHECKS = {"schema": schema, "construct": construct}

if __name__ == "__main__":
    check, raw = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "null")
    json.dump(CHECKS[check](json.loads(raw)), sys.stdout, default=str)
