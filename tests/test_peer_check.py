"""A missing test peer skips on a developer's machine and fails in CI, so green CI means it ran."""

from __future__ import annotations

import pytest

from tests import peer_check


def test_a_missing_peer_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peer_check, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="test peer missing: azurite"):
        peer_check.require_peer(False, "azurite")


def test_a_missing_peer_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peer_check, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="test peer missing: azurite"):
        peer_check.require_peer(False, "azurite")


def test_a_present_peer_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peer_check, "IN_CI", True)
    peer_check.require_peer(True, "azurite")
