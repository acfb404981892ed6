"""Whether a test peer (moto server, Azurite, cloud-init) ran: a missing peer skips on a
developer's machine but FAILS in CI (CI=true), so a green CI always means the peer really ran."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: The repository root.
ROOT = Path(__file__).resolve().parent.parent

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_peer(available: bool, what: str) -> None:
    """Skip locally, fail in CI, when a test peer is missing."""
    if available:
        return
    message = f"test peer missing: {what} (make test installs it; in CI a missing peer is a failure)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)
