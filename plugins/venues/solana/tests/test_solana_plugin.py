"""The distribution through the real loader, and the core's conformance suites for the
venue's declared capabilities (execution, account, fills:history) on LiteSVM.

A swap venue has no resting orders: a market order is one atomic swap. The suites' tests built
on a resting limit order are replaced here by their market-order equivalent (idempotency) or
skipped with the reason and the test that covers what applies (see each).
"""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest
from tradewind.model import Order, OrderStatus, OrderType, Side
from tradewind.testing import assert_plugin_installed
from tradewind.testing.conformance import VenueConformance
from tradewind.testing.scenarios import ScenarioSink, VenueScenarios
from tradewind_venue_solana import SolanaVenue

pytest_plugins = "tradewind.testing"


def test_plugin_is_installed():
    assert_plugin_installed("venues", "solana", SolanaVenue)


def test_capabilities_are_listed_without_importing():
    from tradewind.installed import inventory

    (entry,) = [p for p in inventory() if (p.kind, p.name) == ("venues", "solana")]
    assert entry.distribution == "tradewind-venue-solana"
    assert entry.capabilities == SolanaVenue.capabilities


def test_a_limit_order_is_refused_by_name(sol):
    async def go() -> None:
        venue = await sol.venue()
        try:
            report = await venue.submit_order(
                Order(
                    client_order_id="lim",
                    instrument="sol:MEME/USDC",
                    side=Side.BUY,
                    type=OrderType.LIMIT,
                    quantity=Decimal(1),
                    price=Decimal("0.01"),
                )
            )
        finally:
            await venue.close()
        assert report.status is OrderStatus.REJECTED and "only market orders" in report.reason
        assert sol.rpc.sent == []

    anyio.run(go)


class TestConformance(VenueConformance):
    """Data from the maker's vaults (a third party's swaps made first), execution, account."""

    plugin_class = SolanaVenue

    @pytest.fixture(autouse=True)
    def _chain(self, sol):
        self.sol = sol
        trader = sol.new_trader()
        sol.trader_swap(trader, "buy", 20 * 10**9)
        sol.trader_swap(trader, "sell", 5 * 10**9)
        self.until = sol.rpc.slot  # the feed ends after these swaps

    def make_config(self):
        return self.sol.config(until_slot=self.until)

    async def make_venue(self):
        return await self.sol.venue(instance=SolanaVenue.name, until_slot=self.until)

    def test_execution_is_idempotent_on_client_order_id(self) -> None:
        """The suite's test rests a limit order; a swap venue's equivalent: a market order sent
        twice under one client order id swaps once, is found by id, and an unknown id is
        None."""

        async def go() -> None:
            v = await self.make_venue()
            try:
                inst = next(iter(await v.instruments()))
                order = Order(
                    client_order_id="conf-1",
                    instrument=inst.key,
                    side=Side.BUY,
                    type=OrderType.MARKET,
                    quantity=inst.lot_size * 10**9,
                )
                sent_before = len(self.sol.rpc.sent)
                first = await v.submit_order(order)
                assert first.status is OrderStatus.FILLED, first.reason
                again = await v.submit_order(order)
                assert again == first and len(self.sol.rpc.sent) == sent_before + 1
                found = await v.fetch_order(inst.key, "conf-1")
                assert found == first
                assert await v.fetch_order(inst.key, "never-sent") is None
                assert "conf-1" not in [r.client_order_id for r in await v.fetch_open_orders()]
            finally:
                await v.close()

        anyio.run(go)


class TestSpotScenarios(VenueScenarios):
    """Spot MEME/USDC; the wallet starts with USDC only."""

    plugin_class = SolanaVenue
    market_type = "spot"
    instrument = "sol:MEME/USDC"
    quantity = Decimal("250")
    resting_buy_price = Decimal("0.001")

    @pytest.fixture(autouse=True)
    def _chain(self, sol):
        self.sol = sol

    async def make_venue(self):
        return await self.sol.venue()

    def execute(self, client_order_id, price=None, quantity=None) -> None:
        raise AssertionError("a swap executes itself; nothing executes it")

    def test_partial_fills_then_filled(self) -> None:
        pytest.skip("does not apply to a swap: atomic, it fills whole or not at all")

    def test_cancel_a_resting_order(self) -> None:
        pytest.skip(
            "does not apply: the venue takes market orders only (limit orders are "
            "refused by name: test_a_limit_order_is_refused_by_name)"
        )

    def test_a_fee_in_the_bought_coin_reduces_what_arrives(self) -> None:
        pytest.skip(
            "does not apply: the fee is paid in SOL, not the bought token; see "
            "test_the_fee_is_sol_and_the_account_moves_exactly"
        )

    def test_an_execution_while_disconnected_is_listed_for_reconciliation(self) -> None:
        pytest.skip(
            "nothing executes a swap while the venue is down; a swap sent before a "
            "restart is found by its journaled signature: "
            "test_after_a_restart_a_journaled_order_is_found_by_signature_not_sent_again"
        )

    def test_the_fee_is_sol_and_the_account_moves_exactly(self) -> None:
        """A buy then a sell: the host's account, seeded from fetch_balances and moved by the
        fills (tokens by quantity x price, SOL by each fill's fee), equals the wallet."""
        from tradewind.trading.accounts import Account

        async def go() -> None:
            venue = await self.make_venue()
            sink = ScenarioSink()
            venue.set_sink(sink)
            try:
                inst = await self._instrument(venue)
                account = Account(venue="sol", balances=dict(await venue.fetch_balances()))
                await self._market(venue, sink, Side.BUY, self.quantity, False)
                await self._market(venue, sink, Side.SELL, self.quantity, False)
                for fill in sink.fills:
                    assert (fill.fee_currency, fill.fee_asset) == ("SOL", "other")
                    account.apply_fill(fill, inst, Decimal(0))
                assert account.balances == dict(await venue.fetch_balances())
                assert await venue.fetch_positions() == []
            finally:
                await venue.close()

        anyio.run(go)
