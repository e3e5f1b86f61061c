"""The Solana venue's testkit (LiteSVM RPC server, market, local Jupiter API) on sys.path."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_KIT = str(Path(__file__).resolve().parents[3] / "venues" / "solana" / "testkit")
if _KIT not in sys.path:
    sys.path.insert(0, _KIT)

from sol_testkit import Solana, start_solana  # noqa: E402


@pytest.fixture
def sol(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Solana]:
    """A fresh market, RPC server and Jupiter server; the venue's env vars set."""
    monkeypatch.chdir(tmp_path)
    env = start_solana()
    for k, v in env.environ().items():
        monkeypatch.setenv(k, v)
    try:
        yield env
    finally:
        env.stop()
