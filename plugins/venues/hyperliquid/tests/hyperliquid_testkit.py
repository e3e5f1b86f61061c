"""Helpers of the Hyperliquid venue tests: env names, the venue's config, a recording sink.

The module name is unique to this plugin, so a combined run of every plugin's tests cannot
pick up another plugin's helper (``conftest`` is ambiguous there, so tests import this).
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import anyio
from hyperliquid_local_server import AGENT_ACCOUNT, AGENT_ADDRESS, WALLET_ADDRESS, LocalHyperliquid
from tradewind.model import Order, OrderType, Side

#: Environment variables the test configs name (``env:NAME``).
KEY_ENV = "TW_TEST_HL_KEY"
AGENT_KEY_ENV = "TW_TEST_HL_AGENT_KEY"
AGENT_ACCOUNT_ENV = "TW_TEST_HL_AGENT_ACCOUNT"
STRANGER_KEY_ENV = "TW_TEST_HL_STRANGER_KEY"


def start_server(network: str = "testnet") -> LocalHyperliquid:
    """A local exchange that knows the test wallet and the API wallet."""
    return LocalHyperliquid(
        network=network,
        signers={WALLET_ADDRESS: WALLET_ADDRESS, AGENT_ADDRESS: AGENT_ACCOUNT},
    ).start()


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


def order(cid: str, **kw: Any) -> Order:
    """A limit buy of 0.0001 BTC at 100,000 (the $10 minimum), changed by ``kw``."""
    base: dict[str, Any] = {
        "client_order_id": cid,
        "instrument": "hl:BTC",
        "side": Side.BUY,
        "type": OrderType.LIMIT,
        "quantity": Decimal("0.0001"),
        "price": Decimal("100000"),
    }
    base.update(kw)
    return Order(**base)


class Sink:
    """Records what a venue delivers."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.reports: list[Any] = []
        self.fills: list[Any] = []

    def on_report(self, report: Any) -> None:
        self.reports.append(report)

    def on_fill(self, fill: Any) -> None:
        self.fills.append(fill)

    def on_event(self, event: Any) -> None:
        self.events.append(event)


async def until(predicate: Any, timeout: float = 10.0) -> None:
    """Wait until ``predicate()`` holds (the machine may be busy: the bound is generous)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await anyio.sleep(0.02)
