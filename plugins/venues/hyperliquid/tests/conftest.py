"""Fixtures of the Hyperliquid venue tests: the local exchange and the venue wired to it.

This directory goes on sys.path so tests import their helpers, ``hyperliquid_local_server``
and ``hyperliquid_testkit``; their names are unique to this plugin, so a combined run of every
plugin's tests cannot pick up another plugin's helper.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from hyperliquid_local_server import (  # noqa: E402
    AGENT_ACCOUNT,
    AGENT_KEY,
    STRANGER_KEY,
    WALLET_KEY,
    LocalHyperliquid,
)
from hyperliquid_testkit import (  # noqa: E402
    AGENT_ACCOUNT_ENV,
    AGENT_KEY_ENV,
    KEY_ENV,
    STRANGER_KEY_ENV,
    start_server,
)


@pytest.fixture
def hl_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test wallets' keys in the environment, as a user would export them."""
    monkeypatch.setenv(KEY_ENV, WALLET_KEY)
    monkeypatch.setenv(AGENT_KEY_ENV, AGENT_KEY)
    monkeypatch.setenv(AGENT_ACCOUNT_ENV, AGENT_ACCOUNT)
    monkeypatch.setenv(STRANGER_KEY_ENV, STRANGER_KEY)


@pytest.fixture
def hl_server(hl_env: None) -> Iterator[LocalHyperliquid]:
    """A testnet exchange on 127.0.0.1, stopped after the test."""
    server = start_server("testnet")
    try:
        yield server
    finally:
        server.stop()
