"""The core's venue scenarios (``tradewind.testing.scenarios``) for Hyperliquid perpetuals,
against the local exchange server (signed actions verified, the recorded BTC book)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from hyperliquid_testkit import start_server, venue_config
from tradewind.testing.scenarios import VenueScenarios
from tradewind_venue_hyperliquid import HyperliquidVenue, cloid_for

pytest_plugins = "tradewind.testing"


class TestHyperliquidScenarios(VenueScenarios):
    """A perpetual: market orders cross the book; the close is reduce-only."""

    plugin_class = HyperliquidVenue
    market_type = "perp"
    instrument = "hl:BTC"
    quantity = Decimal("0.0002")
    resting_buy_price = Decimal("100000")

    @pytest.fixture(autouse=True)
    def _server(self, hl_env: None) -> Iterator[None]:
        self.server = start_server("testnet")
        yield
        self.server.stop()

    async def make_venue(self) -> HyperliquidVenue:
        venue = HyperliquidVenue(venue_config(self.server), "hl")
        await venue.connect()
        return venue

    def execute(
        self, client_order_id: str, price: Decimal | None = None, quantity: Decimal | None = None
    ) -> None:
        cloid = cloid_for(client_order_id).to_raw()
        self.server.fill_order(cloid, None if quantity is None else str(quantity))
