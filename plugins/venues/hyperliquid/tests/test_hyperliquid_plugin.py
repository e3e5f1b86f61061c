"""The distribution through the real loader, and the core's venue conformance suite."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hyperliquid_testkit import start_server, venue_config
from tradewind.testing import assert_plugin_installed
from tradewind.testing.conformance import VenueConformance
from tradewind_venue_hyperliquid import HyperliquidVenue

pytest_plugins = "tradewind.testing"


def test_plugin_is_installed():
    assert_plugin_installed("venues", "hyperliquid", HyperliquidVenue)


def test_capabilities_are_listed_without_importing():
    from tradewind.installed import inventory

    (entry,) = [p for p in inventory() if (p.kind, p.name) == ("venues", "hyperliquid")]
    assert entry.distribution == "tradewind-venue-hyperliquid"
    assert entry.capabilities == HyperliquidVenue.capabilities


class TestConformance(VenueConformance):
    """Data and execution, against the local exchange (BTC: a resting buy at 100,000)."""

    plugin_class = HyperliquidVenue
    # 0.0001 BTC (ten lots) at 100,000 is worth exactly the $10 minimum, below the best bid.
    resting_buy_price = Decimal("100000")

    @pytest.fixture(autouse=True)
    def _exchange(self, hl_env):
        self.server = start_server()
        yield
        self.server.stop()

    def make_config(self):
        return venue_config(self.server, symbols=["BTC"])
