"""Shared fixtures of the aggregator plugins' tests (imported by each tests/conftest.py).

The local chain is the EVM venue's (plugins/venues/evm/tests/evm_chain.py: anvil with the
real Uniswap contracts from npm, installed by the ``aggregators`` tox env like ``venue-evm``);
the aggregator APIs are local aiohttp servers (testkit/agg_servers.py) whose transactions call
those routers.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
for extra in (_HERE, _HERE.parent.parent / "venues" / "evm" / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from evm_chain import WALLET_KEY, Anvil, LocalChain  # noqa: E402
from evm_testkit import KEY_ENV, RPC_ENV  # noqa: E402


@pytest.fixture(scope="session")
def agg_chain_session() -> Iterator[LocalChain]:
    """anvil with Uniswap V2 (twice) and V3 deployed and funded (once per session)."""
    anvil = Anvil()
    try:
        chain = LocalChain(anvil)
        chain.deploy_all()
        yield chain
    finally:
        anvil.stop()


@pytest.fixture
def agg_chain(
    agg_chain_session: LocalChain, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[LocalChain]:
    """The session chain, reverted after the test; the venue's wallet env set."""
    monkeypatch.setenv(RPC_ENV, agg_chain_session.anvil.url)
    monkeypatch.setenv(KEY_ENV, WALLET_KEY)
    monkeypatch.chdir(tmp_path)
    snap = agg_chain_session.snapshot()
    try:
        yield agg_chain_session
    finally:
        agg_chain_session.set_automine(True)
        agg_chain_session.revert(snap)
