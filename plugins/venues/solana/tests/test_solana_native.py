"""Native SOL markets on LiteSVM: SOL/USDC (SOL the base) and MEME/SOL (SOL the quote).

A swap that spends SOL wraps it into the wallet's wrapped-SOL account (System transfer +
SyncNative) and closes that account after the exchange; a swap that receives SOL gets wrapped SOL
and closes the account, unwrapping it. The real SPL Token program runs both in the swap's own
transaction. Every fill is checked against the VM: the SOL traded and the fee are the wallet's
lamport change to the lamport, the token leg its token change, and no wrapped SOL is left.
"""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest
from tradewind.model import Order, OrderStatus, OrderType, Side
from tradewind.testing.scenarios import ScenarioSink

D = Decimal
SOL_USDC = {
    "symbol": "SOL/USDC",
    "base": "SOL",
    "quote": "USDC",
    "lot_size": "0.001",
    "tick_size": "0.000001",
}
MEME_SOL = {
    "symbol": "MEME/SOL",
    "base": "MEME",
    "quote": "SOL",
    "lot_size": "1",
    "tick_size": "0.000000001",
}


def order(cid: str, symbol: str, side: Side, qty: str) -> Order:
    return Order(
        client_order_id=cid,
        instrument=f"sol:{symbol}",
        side=side,
        type=OrderType.MARKET,
        quantity=D(qty),
    )


@pytest.fixture
def native(sol):
    m = sol.market
    sol.jupiter.add_pair(m.sol, m.usdc, D("150"))
    sol.jupiter.add_pair(m.meme, m.sol, D("0.0001"))
    return sol


def test_sol_usdc_buy_and_sell_wrap_and_unwrap_to_the_lamport(native):
    sol = native

    async def go() -> None:
        venue = await sol.venue(markets=[SOL_USDC], pools=[])
        sink = ScenarioSink()
        venue.set_sink(sink)
        try:
            before = sol.wallet_units()
            buy = await venue.submit_order(order("b1", "SOL/USDC", Side.BUY, "0.5"))
            assert buy.status is OrderStatus.FILLED, buy.reason
            mid = sol.wallet_units()
            sell = await venue.submit_order(order("s1", "SOL/USDC", Side.SELL, "0.25"))
            assert sell.status is OrderStatus.FILLED, sell.reason
            after = sol.wallet_units()
            balances = await venue.fetch_balances()
        finally:
            await venue.close()
        fb, fs = sink.fills
        mb = sol.rpc.landed[fb.trade_id].meta
        ms = sol.rpc.landed[fs.trade_id].meta
        # The buy received exactly 0.5 SOL (ExactOut) as wrapped SOL, unwrapped in the same
        # transaction: the wallet's lamports rose by 0.5 SOL less the network fee.
        assert fb.quantity == D("0.5")
        assert mid["SOL"] - before["SOL"] == 500_000_000 - mb["fee"]
        assert fb.fee == D(mb["fee"]) / 10**9 and mb["fee"] > 5000
        assert before["USDC"] - mid["USDC"] == 75_075_000  # 0.5 x 150 x 1.001
        assert fb.quantity * fb.price == D("75.075")
        # The sell spent exactly 0.25 SOL, wrapped and swapped in one transaction.
        assert fs.quantity == D("0.25")
        assert mid["SOL"] - after["SOL"] == 250_000_000 + ms["fee"]
        assert fs.fee == D(ms["fee"]) / 10**9
        assert after["USDC"] - mid["USDC"] == 37_462_500  # 0.25 x 150 x 0.999
        assert fs.quantity * fs.price == D("37.4625")
        # No wrapped SOL left: the account was closed both times, its rent came back.
        assert mid["WSOL"] == after["WSOL"] == 0
        assert (
            sol.rpc.svm.get_account(sol.market.ata(sol.market.wallet.pubkey(), sol.market.sol))
            is None
        )
        assert balances["SOL"] == D(after["SOL"]) / 10**9

    anyio.run(go)


def test_meme_sol_pays_and_receives_sol_with_the_rent_as_cost(native):
    sol = native

    async def go() -> None:
        venue = await sol.venue(markets=[MEME_SOL], pools=[], slippage_bps=100)
        sink = ScenarioSink()
        venue.set_sink(sink)
        try:
            before = sol.wallet_units()
            buy = await venue.submit_order(order("b1", "MEME/SOL", Side.BUY, "1000"))
            assert buy.status is OrderStatus.FILLED, buy.reason
            mid = sol.wallet_units()
            sell = await venue.submit_order(order("s1", "MEME/SOL", Side.SELL, "400"))
            assert sell.status is OrderStatus.FILLED, sell.reason
            after = sol.wallet_units()
        finally:
            await venue.close()
        fb, fs = sink.fills
        mb = sol.rpc.landed[fb.trade_id].meta
        ms = sol.rpc.landed[fs.trade_id].meta
        rent_meme = sol.rpc.svm.minimum_balance_for_rent_exemption(170)
        # The buy: 1000 MEME for 0.1001 SOL at the ask. The transaction wrapped the most the
        # order allows (1 % slippage) and unwrapped the rest: the wallet paid exactly the
        # price, the fee and the new MEME account's rent.
        paid = 100_100_000
        assert fb.quantity == D(1000) and mid["MEME"] - before["MEME"] == 1000 * 10**9
        assert fb.quantity * fb.price == D(paid) / 10**9
        assert before["SOL"] - mid["SOL"] == paid + mb["fee"] + rent_meme
        assert fb.fee == D(mb["fee"] + rent_meme) / 10**9
        assert (fb.fee_currency, fb.fee_asset) == ("SOL", "other")
        # The sell: 400 MEME for 0.03996 SOL at the bid, received as wrapped SOL and unwrapped.
        got = 39_960_000
        assert fs.quantity == D(400) and mid["MEME"] - after["MEME"] == 400 * 10**9
        assert fs.quantity * fs.price == D(got) / 10**9
        assert after["SOL"] - mid["SOL"] == got - ms["fee"]
        assert fs.fee == D(ms["fee"]) / 10**9
        assert mid["WSOL"] == after["WSOL"] == 0

    anyio.run(go)


def test_unwrapping_to_another_owner_is_refused_before_signing(native):
    sol = native

    async def go() -> None:
        venue = await sol.venue(markets=[SOL_USDC], pools=[])
        sol.jupiter.tamper = "unwrap"
        try:
            before = sol.wallet_units()
            report = await venue.submit_order(order("u1", "SOL/USDC", Side.SELL, "0.25"))
        finally:
            await venue.close()
        assert report.status is OrderStatus.REJECTED
        assert "refused before signing" in report.reason and "CloseAccount" in report.reason
        assert sol.rpc.sent == [] and sol.wallet_units() == before

    anyio.run(go)


def test_native_sol_needs_no_tokens_entry_and_cannot_have_one(native):
    from tradewind_venue_solana.config import SolanaConfig

    cfg = native.config(markets=[SOL_USDC], pools=[])
    assert isinstance(cfg, SolanaConfig) and "SOL" not in cfg.tokens
    tokens = dict(native.config_table()["tokens"])
    tokens["SOL"] = {"mint": str(native.market.sol.address)}
    with pytest.raises(Exception, match="native SOL needs no tokens entry"):
        native.config(markets=[SOL_USDC], pools=[], tokens=tokens)


def test_wrapped_sol_already_held_counts_as_sol_and_is_unwrapped_by_the_swap(native):
    # The wallet already holds 0.3 wrapped SOL (its wrapped-SOL account exists). The SOL/USDC
    # sell wraps 0.25 more into that account and closes it: all of it comes back unwrapped,
    # with the account's rent. The fill is still the 0.25 SOL traded; its cost is the fee
    # less the rent the closed account returned; the wallet's SOL (lamports + wrapped) moves
    # by exactly what was booked.
    sol = native
    m = sol.market
    m.wrap(m.wallet, 300_000_000)
    wsol = m.ata(m.wallet.pubkey(), m.sol)
    rent = sol.rpc.svm.get_account(wsol).lamports - 300_000_000

    async def go() -> None:
        venue = await sol.venue(markets=[SOL_USDC], pools=[])
        sink = ScenarioSink()
        venue.set_sink(sink)
        try:
            before = sol.wallet_units()
            start = await venue.fetch_balances()
            sell = await venue.submit_order(order("s1", "SOL/USDC", Side.SELL, "0.25"))
            assert sell.status is OrderStatus.FILLED, sell.reason
            after = sol.wallet_units()
            end = await venue.fetch_balances()
        finally:
            await venue.close()
        (fill,) = sink.fills
        meta = sol.rpc.landed[fill.trade_id].meta
        assert before["WSOL"] == 300_000_000 and after["WSOL"] == 0
        assert start["SOL"] == D(before["SOL"] + before["WSOL"]) / 10**9
        assert fill.quantity == D("0.25")
        assert fill.fee == D(meta["fee"] - rent) / 10**9
        assert after["SOL"] - before["SOL"] == 300_000_000 + rent - 250_000_000 - meta["fee"]
        assert end["SOL"] - start["SOL"] == -fill.quantity - fill.fee
        assert after["USDC"] - before["USDC"] == 37_462_500

    anyio.run(go)
