"""Fixtures of the Hyperliquid venue tests: the local exchange and the venue wired to it.

This directory goes on sys.path so tests import their helper, ``hyperliquid_local_server``;
its name is unique to this plugin, so a combined run of every plugin's tests cannot pick up
another plugin's helper.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from hyperliquid_local_server import (  # noqa: E402
    AGENT_ACCOUNT,
    AGENT_ADDRESS,
    AGENT_KEY,
    STRANGER_KEY,
    WALLET_ADDRESS,
    WALLET_KEY,
    LocalHyperliquid,
)

#: Environment variables the test configs name (``env:NAME``).
KEY_ENV = "TW_TEST_HL_KEY"
AGENT_KEY_ENV = "TW_TEST_HL_AGENT_KEY"
AGENT_ACCOUNT_ENV = "TW_TEST_HL_AGENT_ACCOUNT"
STRANGER_KEY_ENV = "TW_TEST_HL_STRANGER_KEY"


@pytest.fixture
def hl_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test wallets' keys in the environment, as a user would export them."""
    monkeypatch.setenv(KEY_ENV, WALLET_KEY)
    monkeypatch.setenv(AGENT_KEY_ENV, AGENT_KEY)
    monkeypatch.setenv(AGENT_ACCOUNT_ENV, AGENT_ACCOUNT)
    monkeypatch.setenv(STRANGER_KEY_ENV, STRANGER_KEY)


def start_server(network: str = "testnet") -> LocalHyperliquid:
    """A local exchange that knows the test wallet and the API wallet."""
    return LocalHyperliquid(
        network=network,
        signers={WALLET_ADDRESS: WALLET_ADDRESS, AGENT_ADDRESS: AGENT_ACCOUNT},
    ).start()


@pytest.fixture
def hl_server(hl_env: None) -> Iterator[LocalHyperliquid]:
    """A testnet exchange on 127.0.0.1, stopped after the test."""
    server = start_server("testnet")
    try:
        yield server
    finally:
        server.stop()


def venue_config(server: LocalHyperliquid, **overrides: Any) -> Any:
    """The venue's config for ``server``: testnet, the test wallet, BTC and DYDX."""
    from tradewind._serde import structure
    from tradewind_venue_hyperliquid import HyperliquidConfig

    options: dict[str, Any] = {
        "network": "testnet",
        "base_url": server.url,
        "private_key": f"env:{KEY_ENV}",
        "symbols": ["BTC", "DYDX"],
        "request_timeout_s": 2.0,
        "lookup_interval_s": 0.05,
        "reconnect_delay_s": 0.05,
    }
    options.update(overrides)
    return structure({k: v for k, v in options.items() if v is not None}, HyperliquidConfig)
