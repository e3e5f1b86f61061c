"""Market data from a pool's vaults: swaps decoded from the transactions that touch them, with
the aggressor side, and the pool's price and liquidity (capability "values")."""

from __future__ import annotations

import math
from decimal import Decimal

import anyio


def test_third_party_swaps_stream_as_trades_with_their_side(sol):
    trader = sol.new_trader()
    sigs = [
        sol.trader_swap(trader, "buy", 1000 * 10**9),
        sol.trader_swap(trader, "sell", 400 * 10**9),
        sol.trader_swap(trader, "buy", 50 * 10**9),
    ]

    async def go() -> None:
        venue = await sol.venue()
        try:
            (inst,) = await venue.instruments()
            assert all(math.isnan(v) for v in venue.venue_values(inst.key).values())
            feed = venue.stream_trades([inst])
            batch = await feed.__anext__()
            await feed.aclose()
            values = venue.venue_values(inst.key)
            again = await venue.poll_trades(inst)  # nothing new since
        finally:
            await venue.close()
        assert batch is not None and batch.instrument == "sol:MEME/USDC"
        assert list(batch.side) == [1, -1, 1]
        assert list(batch.size) == [1000.0, 400.0, 50.0]
        ask, bid = 0.02 * 1.001, 0.02 * 0.999
        assert [round(p, 9) for p in batch.price] == [round(ask, 9), round(bid, 9), round(ask, 9)]
        assert (batch.ts_ns[1:] >= batch.ts_ns[:-1]).all()
        assert len(set(batch.trade_id.tolist())) == 3
        assert again is None
        m = sol.market
        base = Decimal(sol.rpc.token_amount(m.maker.pubkey(), m.meme.address)).scaleb(-9)
        quote = Decimal(sol.rpc.token_amount(m.maker.pubkey(), m.usdc.address)).scaleb(-6)
        assert values["price"] == float(quote / base)
        assert values["liquidity"] == float(quote + base * (quote / base))
        assert len(sigs) == 3

    anyio.run(go)


def test_each_poll_delivers_only_the_swaps_since_the_last(sol):
    trader = sol.new_trader()
    sol.trader_swap(trader, "buy", 10 * 10**9)

    async def go() -> None:
        venue = await sol.venue()
        try:
            (inst,) = await venue.instruments()
            first = await venue.poll_trades(inst)
            sol.trader_swap(trader, "sell", 3 * 10**9)
            second = await venue.poll_trades(inst)
        finally:
            await venue.close()
        assert first is not None and list(first.size) == [10.0]
        assert second is not None and list(second.side) == [-1] and list(second.size) == [3.0]

    anyio.run(go)
