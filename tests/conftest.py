"""Puts the repository root on sys.path, so `tests.*` helper modules import from any test folder.
Helpers live in plain modules (tests/peer_check.py, tests/*/helpers.py), fixtures in conftest.py."""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
