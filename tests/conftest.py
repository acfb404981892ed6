"""Shared test helpers. A test whose peer (moto server, Azurite, cloud-init) is missing skips on
a developer's machine but FAILS in CI (CI=true), so a green CI always means the peer really ran."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_peer(available: bool, what: str) -> None:
    """Skip locally, fail in CI, when a test peer is missing."""
    if available:
        return
    message = f"test peer missing: {what} (make test installs it; in CI a missing peer is a failure)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)
