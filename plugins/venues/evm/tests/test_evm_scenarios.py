"""The core's venue scenarios (``tradewind.testing.scenarios``) for the EVM venue's one market
type, spot, on a real Uniswap V2 pool of the local chain.

What applies to a pool runs as written: the declared capabilities, opening and closing a
position with the order the engine sends on spot (a plain sell of what the wallet holds, the
account's base balance equal to the fills), and cancelling a resting order (an emulated limit).

What does not apply to an AMM pool is overridden here with the reason, and where the pool has
an equivalent, the test of that equivalent is named:

- partial fills: a swap is atomic, it fills whole or reverts;
- a fee taken from the bought coin: a pool charges its fee on the *input* token inside the
  swap (it is in the realised price); the fill's fee is the gas, in the native token
  (``test_the_fee_is_the_gas_in_the_native_token_and_the_account_moves_exactly`` below);
- an order in flight across a restart, and an execution while disconnected: the scenarios
  rest a limit order at the exchange and execute it while no venue instance runs. A pool has
  no order book; an emulated limit is watched by the venue's own process and nothing executes
  it while the process is down. The pool's order in flight is a swap transaction broadcast but
  not yet mined: test_evm_restart.py kills the venue (and the whole host) between broadcast and
  receipt and checks the restart finds it by nonce and hash, books it once through
  ``fetch_order``/``fetch_fills`` (``fills:history``) and never sends a second swap.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import anyio
import pytest
from evm_testkit import connected, pool
from tradewind.model import Side
from tradewind.testing.scenarios import ScenarioSink, VenueScenarios
from tradewind.trading.accounts import Account
from tradewind_venue_evm import EvmVenue


class TestUniswapV2SpotScenarios(VenueScenarios):
    """Spot on a Uniswap V2 pool; the wallet starts with USD only (its WETH is the position)."""

    plugin_class = EvmVenue
    market_type = "spot"
    instrument = "dex:WETH/USD"
    quantity = Decimal("0.5")
    resting_buy_price = Decimal("100")  # the pool trades near 2,000 USD

    @pytest.fixture(autouse=True)
    def _chain(self, evm: Any) -> Iterator[None]:
        self.evm = evm
        evm.fund(evm.wallet, Decimal(0), Decimal(20_000))
        yield

    async def make_venue(self) -> EvmVenue:
        return await connected(self.evm, [pool(self.evm, "uniswap-v2")], emulate_limits=True)

    def execute(
        self, client_order_id: str, price: Decimal | None = None, quantity: Decimal | None = None
    ) -> None:
        raise AssertionError("a pool executes a market swap itself; nothing executes it")

    def test_partial_fills_then_filled(self) -> None:
        pytest.skip("does not apply to a pool: a swap is atomic (it fills whole or reverts)")

    def test_a_fee_in_the_bought_coin_reduces_what_arrives(self) -> None:
        pytest.skip(
            "does not apply to a pool: its fee is charged on the input token inside the swap; "
            "see test_the_fee_is_the_gas_in_the_native_token_and_the_account_moves_exactly"
        )

    def test_order_in_flight_across_a_restart_delivers_its_fill_once(self) -> None:
        pytest.skip(
            "a pool has no resting orders at an exchange; the pool's order in flight is a "
            "broadcast swap: test_evm_restart.py (SIGKILL between broadcast and receipt)"
        )

    def test_an_execution_while_disconnected_is_listed_for_reconciliation(self) -> None:
        pytest.skip(
            "nothing executes an emulated limit while the venue's process is down; a swap "
            "mined while disconnected is listed by fetch_fills: test_evm_restart.py"
        )

    def test_the_fee_is_the_gas_in_the_native_token_and_the_account_moves_exactly(self) -> None:
        """A buy then a sell: each fill's fee names the native token; the host's account,
        seeded from ``fetch_balances`` and moved by the fills, equals the wallet afterwards."""

        async def go() -> None:
            venue = await self.make_venue()
            sink = ScenarioSink()
            venue.set_sink(sink)
            try:
                inst = await self._instrument(venue)
                account = Account(venue="dex", balances=dict(await venue.fetch_balances()))
                bought = await self._market(venue, sink, Side.BUY, self.quantity, False)
                held = sum(
                    (
                        f.net_quantity
                        for f in sink.fills
                        if f.client_order_id == bought.client_order_id
                    ),
                    Decimal(0),
                )
                await self._market(venue, sink, Side.SELL, held, False)
                for fill in sink.fills:
                    assert (fill.fee_currency, fill.fee_asset) == ("ETH", "other")
                    assert fill.fee > 0
                    account.apply_fill(fill, inst, Decimal(0))
                assert account.balances == dict(await venue.fetch_balances())
                assert account.balance("WETH") == 0
                assert await venue.fetch_positions() == []
            finally:
                await venue.close()

        anyio.run(go)
