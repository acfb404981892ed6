"""Puts the repository root on sys.path, so `tests.*` helper modules import from any test folder,
and holds the session fixtures for real peers every folder uses (tests/runtime/peers.py starts
them): a test names `moto_server`, `moto_server_serial` or `azurite` as an argument and gets a
running peer. A missing peer skips on a developer's machine and fails in CI (tests/peer_check.py).
Helpers live in plain modules (tests/peer_check.py, tests/*/helpers.py), fixtures in conftest.py."""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from collections.abc import Iterator  # noqa: E402 - after the sys.path set-up above

import pytest  # noqa: E402

from tests.peer_check import require_peer  # noqa: E402
from tests.runtime.peers import (  # noqa: E402
    Azurite,
    MotoServer,
    azurite_binary,
    moto_server_binary,
    run_azurite,
    run_moto,
    run_moto_serial,
)

MOTO = "moto_server (pip install 'moto[server]')"


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """Threaded moto server: SQS, S3, Auto Scaling over HTTP."""
    binary = moto_server_binary()
    require_peer(binary is not None, MOTO)
    assert binary is not None
    yield from run_moto(binary)


@pytest.fixture(scope="session")
def moto_server_serial() -> Iterator[MotoServer]:
    """moto serving one request at a time, for DynamoDB's atomic conditional writes (see run_moto_serial)."""
    require_peer(moto_server_binary() is not None, MOTO)
    yield from run_moto_serial()


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """Azurite's Blob and Table services, in memory."""
    binary = azurite_binary()
    require_peer(binary is not None, "azurite (npm install --prefix .peers azurite@3, or make peers)")
    assert binary is not None
    yield from run_azurite(binary)
