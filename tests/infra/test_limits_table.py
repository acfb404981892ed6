"""docs/configuration.md's limits table is what the validators accept, measured, not retyped."""

from __future__ import annotations

from agentfleet.limits_table import accepted_range, documented, table


def test_the_documented_limits_table_is_the_one_the_validators_produce() -> None:
    assert documented() == table(), "regenerate it: python -m agentfleet.limits_table --write"


def test_the_probe_finds_a_limit_the_code_enforces() -> None:
    # SQS's 12-hour visibility: 43,200 is accepted, 43,201 is not.
    assert accepted_range("aws", "queue.visibility_timeout_seconds") == (1, 43_200)
    assert accepted_range(None, "queue.visibility_timeout_seconds") == (1, None)
