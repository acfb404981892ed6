"""Config problems and the one error that carries them, in the shape a user can act on.

Every bad value is reported as one line naming the key, the value and what would be accepted:

    agentfleet: fleet.scaling.max_agents=0 must be >= min_agents (1)

`problems_from(ValidationError)` turns pydantic's errors into such lines, so the schema
(components/schema.py) and each target's settings section report the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: The value of a key that is not there at all (shown as `fleet.name is required`, with no `=`).
MISSING: Any = _Missing()


@dataclass(frozen=True)
class ConfigProblem:
    """One bad value: where it is, what it was, and what would be accepted."""

    field: str
    value: Any
    allowed: str

    def __str__(self) -> str:
        # A key that is absent (or null) has no value to show: `fleet.name is required`, never `=None`.
        if self.value is MISSING or self.value is None:
            return f"agentfleet: {self.field} {self.allowed}"
        return f"agentfleet: {self.field}={_show(self.value)} {self.allowed}"


class ConfigError(ValueError):
    """Raised with every problem of a configuration at once, one line each."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class CrossFieldError(ValueError):
    """A rule between two fields of one section, raised by a model validator.

    Pydantic reports a model validator's error at the section; this names the field the user
    should change (`fleet.scaling.max_agents`, not `fleet.scaling`).
    """

    def __init__(self, field: str, value: Any, allowed: str) -> None:
        super().__init__(allowed)
        self.field = field
        self.value = value
        self.allowed = allowed


def _show(value: Any) -> str:
    """A value as the user wrote it in YAML: strings quoted, so `'5'` and `5` never read the same."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def problems_from(exc: ValidationError, prefix: str) -> list[ConfigProblem]:
    """One `ConfigProblem` per pydantic error, its path starting at `prefix` (`fleet`, `fleet.<target>`)."""
    problems: list[ConfigProblem] = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        ctx = err.get("ctx") or {}
        inner = ctx.get("error")
        if isinstance(inner, CrossFieldError):
            path = ".".join([prefix, *loc, inner.field])
            problems.append(ConfigProblem(path, inner.value, inner.allowed))
            continue
        path = ".".join([prefix, *loc])
        value = MISSING if err["type"] == "missing" else err.get("input")
        problems.append(ConfigProblem(path, value, _allowed(err)))
    return problems


def _allowed(err: Any) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known key (check its spelling against docs/configuration.md)"
    if kind == "greater_than_equal":
        return f"must be >= {ctx['ge']}"
    if kind == "less_than_equal":
        return f"must be <= {ctx['le']}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "must be a whole number"
    if kind in ("bool_parsing", "bool_type"):
        return "must be true or false"
    if kind in ("string_type",):
        return "must be a string"
    if kind == "string_too_short":
        return "must not be empty"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "must be an object"
    if kind == "list_type":
        return "must be a list"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return str(err["msg"])
