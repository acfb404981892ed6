"""Find one fleet in what `pulumi stack output --json` prints.

A stack with one fleet prints its outputs flat (`{"cloud": "aws", "queue": …}`); a stack with
several may nest them per fleet (`{"fleets": {"orders": {…}, "emails": {…}}}`). `--fleet NAME`
picks one of several; with one nested fleet it may be left out.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class OutputsFileError(ValueError):
    """The outputs cannot be read or do not say which fleet; the message says what to do."""


@dataclass(frozen=True)
class FleetOutputs:
    """One fleet's stack outputs and the name it was picked by (None for a flat stack)."""

    name: str | None
    values: dict[str, Any]

    @property
    def cloud(self) -> str:
        return str(self.values.get("cloud") or "")

    @property
    def label(self) -> str:
        """How to name the fleet to a person: its key in the outputs, else its agent group."""
        return self.name or str(self.values.get("agent_group") or self.values.get("queue") or "fleet")


def read_outputs(source: str) -> dict[str, Any]:
    """The JSON object in the file `source`, or on stdin for `-`."""
    where = "stdin" if source == "-" else source
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as error:
        raise OutputsFileError(f"--outputs {where}: {error.strerror or error}") from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise OutputsFileError(
            f"--outputs {where} is not JSON ({error.msg}, line {error.lineno}); "
            "give it what `pulumi stack output --json` prints"
        ) from error
    if not isinstance(data, dict):
        raise OutputsFileError(
            f"--outputs {where} holds a JSON {type(data).__name__}, not an object of outputs"
        )
    return data


def pick_fleet(data: dict[str, Any], fleet: str | None) -> FleetOutputs:
    """The one fleet `fleet` names (or the only one)."""
    fleets = data.get("fleets")
    if isinstance(fleets, dict):
        names = sorted(fleets)
        if fleet is None:
            if len(names) == 1:
                return FleetOutputs(names[0], dict(fleets[names[0]]))
            raise OutputsFileError(
                f"the outputs hold {len(names)} fleets ({', '.join(names)}): pick one with --fleet"
            )
        if fleet not in fleets:
            raise OutputsFileError(f"--fleet {fleet}: the outputs hold {', '.join(names) or 'no fleet'}")
        return FleetOutputs(fleet, dict(fleets[fleet]))
    if "cloud" not in data:
        raise OutputsFileError(
            "the outputs have no `cloud` and no `fleets`: are they an agentfleet stack's "
            "`pulumi stack output --json`?"
        )
    if fleet is not None:
        raise OutputsFileError(f"--fleet {fleet}: the outputs hold one fleet, not several; leave --fleet out")
    return FleetOutputs(None, data)


def load_fleet_outputs(source: str, fleet: str | None = None) -> FleetOutputs:
    return pick_fleet(read_outputs(source), fleet)
