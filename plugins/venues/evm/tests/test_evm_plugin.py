"""The distribution through the real loader, and the core's venue conformance suite."""

from __future__ import annotations

from decimal import Decimal

import pytest
from evm_testkit import make_config, pool
from tradewind.testing import assert_plugin_installed
from tradewind.testing.conformance import VenueConformance
from tradewind_venue_evm import EvmVenue

pytest_plugins = "tradewind.testing"


def test_plugin_is_installed():
    assert_plugin_installed("venues", "evm", EvmVenue)


def test_capabilities_are_listed_without_importing():
    from tradewind.installed import inventory

    (entry,) = [p for p in inventory() if (p.kind, p.name) == ("venues", "evm")]
    assert entry.distribution == "tradewind-venue-evm"
    assert entry.capabilities == EvmVenue.capabilities


class TestConformance(VenueConformance):
    """Data and execution on the local chain's Uniswap V3 pool (limits emulated, resting at
    1,000 while the pool trades at 2,000)."""

    plugin_class = EvmVenue
    resting_buy_price = Decimal("1000")

    @pytest.fixture(autouse=True)
    def _chain(self, evm):
        self.chain = evm
        evm.fund(evm.trader, Decimal(10), Decimal(50_000))
        self.start = evm.w3.eth.block_number + 1
        evm.trader_swap_v3(True, Decimal(1))
        evm.trader_swap_v3(False, Decimal(2500))
        evm.trader_swap_v3(True, Decimal("0.5"))
        self.end = evm.w3.eth.block_number

    def make_config(self):
        return make_config(
            self.chain,
            [pool(self.chain, "uniswap-v3")],
            emulate_limits=True,
            from_block=self.start,
            until_block=self.end,
        )
