"""Session fixtures for the runtime tests' real peers (tests/runtime/peers.py starts them): a
test names `moto_server`, `moto_server_serial` or `azurite` as an argument and gets a running peer.
A missing peer skips on a developer's machine and fails in CI (tests/peer_check.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.peer_check import require_peer
from tests.runtime.peers import (
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
