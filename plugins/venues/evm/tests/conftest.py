"""Fixtures of the EVM venue tests: one anvil chain with the real contracts per session.

Each test runs between an ``evm_snapshot`` and an ``evm_revert``, so tests see the freshly
deployed pools and never each other's swaps. This directory goes on sys.path so tests import
their helpers (``evm_chain``, ``evm_testkit``), names unique to this plugin.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from evm_chain import WALLET_KEY, Anvil, LocalChain  # noqa: E402
from evm_testkit import KEY_ENV, RPC_ENV  # noqa: E402


@pytest.fixture(scope="session")
def evm_session() -> Iterator[LocalChain]:
    """anvil on 127.0.0.1 with Uniswap V2 (twice), V3 and Balancer V2 deployed and funded."""
    anvil = Anvil()
    try:
        chain = LocalChain(anvil)
        chain.deploy_all()
        yield chain
    finally:
        anvil.stop()


@pytest.fixture
def evm(
    evm_session: LocalChain, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[LocalChain]:
    """The session chain, reverted to its deployed state after the test; wallet env set."""
    monkeypatch.setenv(RPC_ENV, evm_session.anvil.url)
    monkeypatch.setenv(KEY_ENV, WALLET_KEY)
    monkeypatch.chdir(tmp_path)
    snap = evm_session.snapshot()
    try:
        yield evm_session
    finally:
        evm_session.set_automine(True)
        evm_session.revert(snap)
