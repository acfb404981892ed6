"""Fixtures for the local fleet's tests; the helpers (tiny fleets) are in tests/local/helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentfleet.local.stack import LocalPaths


@pytest.fixture
def paths(tmp_path: Path) -> LocalPaths:
    return LocalPaths(tmp_path / "fleet").create()
