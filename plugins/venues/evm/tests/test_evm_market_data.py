"""Swap events as trades: price, size and aggressor side; reorgs retract; pool liquidity."""

from __future__ import annotations

from decimal import Decimal

import anyio
import numpy as np
import pytest
from evm_testkit import Sink, connected, pool
from tradewind.model import TickBatch
from tradewind_venue_evm.schemas import TicksRetracted


def _v2_swap(evm, sell_weth: bool, amount: Decimal):
    router = evm.contract("UniswapV2Router02", evm.d.v2_router)
    token_in, token_out = (evm.d.weth, evm.d.usd) if sell_weth else (evm.d.usd, evm.d.weth)
    evm.send(evm.erc20(token_in).functions.approve(evm.d.v2_router, 2**256 - 1), evm.trader)
    return evm.send(
        router.functions.swapExactTokensForTokens(
            int(amount * 10**18), 0, [token_in, token_out], evm.trader, 2**40
        ),
        evm.trader,
    )


def _balancer_swap(evm, sell_weth: bool, amount: Decimal):
    vault = evm.contract("Vault", evm.d.vault)
    pid = evm.contract("WeightedPool", evm.d.balancer_pool).functions.getPoolId().call()
    token_in, token_out = (evm.d.weth, evm.d.usd) if sell_weth else (evm.d.usd, evm.d.weth)
    evm.send(evm.erc20(token_in).functions.approve(evm.d.vault, 2**256 - 1), evm.trader)
    return evm.send(
        vault.functions.swap(
            (pid, 0, token_in, token_out, int(amount * 10**18), b""),
            (evm.trader, False, evm.trader, False),
            0,
            2**40,
        ),
        evm.trader,
    )


SWAPPERS = {
    "uniswap-v2": _v2_swap,
    "uniswap-v3": lambda evm, sell, amt: evm.trader_swap_v3(sell, amt),
    "balancer-v2": _balancer_swap,
}


@pytest.mark.parametrize("dex", sorted(SWAPPERS))
def test_swap_events_become_ticks_with_price_size_and_aggressor(evm, dex):
    evm.fund(evm.trader, Decimal(10), Decimal(50_000))
    start = evm.w3.eth.block_number + 1
    receipts = [
        SWAPPERS[dex](evm, True, Decimal(2)),  # the taker sold WETH: aggressor sell
        SWAPPERS[dex](evm, False, Decimal(3000)),  # the taker sold USD: aggressor buy
    ]
    end = evm.w3.eth.block_number

    async def go():
        # log_range 1: one eth_getLogs per block, so the backlog is read in pieces.
        venue = await connected(
            evm, [pool(evm, dex)], from_block=start, until_block=end, log_range=1
        )
        try:
            insts = list(await venue.instruments())
            return [b async for b in venue.stream_trades(insts)]
        finally:
            await venue.close()

    batch = TickBatch.concat(anyio.run(go))
    assert batch.instrument == "dex:WETH/USD"
    assert list(batch.side) == [-1, 1]
    weth, usd = evm.d.weth, evm.d.usd
    from tradewind_venue_evm.schemas import transfers

    for i, r in enumerate(receipts):
        moved = {t: a for t, src, dst, a in transfers(r) if evm.trader in (src, dst)}
        assert batch.size[i] == pytest.approx(moved[weth] / 1e18, rel=1e-15)
        assert batch.price[i] == pytest.approx(moved[usd] / moved[weth], rel=1e-12)
        block = evm.w3.eth.get_block(r["blockNumber"])
        assert batch.ts_ns[i] == block["timestamp"] * 10**9
    assert batch.size[0] == pytest.approx(2.0)


def test_a_reorg_retracts_delivered_ticks_and_delivers_the_new_chain(evm):
    evm.fund(evm.trader, Decimal(10), Decimal(50_000))
    evm.send(evm.erc20(evm.d.weth).functions.approve(evm.d.swap_router, 2**256 - 1), evm.trader)
    evm.send(evm.erc20(evm.d.usd).functions.approve(evm.d.swap_router, 2**256 - 1), evm.trader)

    async def go():
        venue = await connected(evm, [pool(evm, "uniswap-v3")])
        sink = Sink()
        venue.set_sink(sink)
        try:
            insts = list(await venue.instruments())
            start = evm.w3.eth.block_number + 1
            assert await venue.poll_trades(insts, start - 1, start - 1) == []  # seen: start - 1
            fork_point = evm.snapshot()
            evm.trader_swap_v3(True, Decimal(1))  # blocks from `start`: a sell, delivered...
            first = await venue.poll_trades(insts, start, evm.w3.eth.block_number)
            evm.revert(fork_point)  # ...then reorged away:
            evm.trader_swap_v3(False, Decimal(5000))  # the new block `start` holds a buy
            evm.mine()
            fork = await venue._check_reorg()
            second = await venue.poll_trades(insts, fork, evm.w3.eth.block_number)
            return start, first, fork, second, sink
        finally:
            await venue.close()

    start, first, fork, second, sink = anyio.run(go)
    (b1,) = first
    (b2,) = second
    assert list(b1.side) == [-1] and list(b2.side) == [1]
    assert fork == start
    (retracted,) = [e for e in sink.events if isinstance(e, TicksRetracted)]
    assert retracted.instrument == "dex:WETH/USD" and retracted.from_block == start
    assert retracted.trade_ids == tuple(int(t) for t in b1.trade_id)
    assert b2.trade_id[0] == b1.trade_id[0]  # same position in the chain, a different trade


def test_pool_liquidity_is_valued_in_quote_and_drops_when_liquidity_leaves(evm):
    async def value():
        venue = await connected(evm, [pool(evm, "uniswap-v2")])
        try:
            return await venue.liquidity("dex:WETH/USD"), await venue.mid_price("dex:WETH/USD")
        finally:
            await venue.close()

    before, price = anyio.run(value)
    # 500 WETH and 1,000,000 USD at 2,000: worth 2,000,000 USD.
    assert abs(price - Decimal(2000)) < Decimal("0.01")
    assert abs(before - Decimal(2_000_000)) < Decimal(10)
    # The liquidity provider pulls 40 % of its LP tokens (a rug in progress).
    pair = evm.contract("UniswapV2Pair", evm.d.v2_pair)
    lp = pair.functions.balanceOf(evm.deployer).call()
    evm.send(pair.functions.approve(evm.d.v2_router, 2**256 - 1))
    router = evm.contract("UniswapV2Router02", evm.d.v2_router)
    evm.send(
        router.functions.removeLiquidity(
            evm.d.weth, evm.d.usd, lp * 4 // 10, 0, 0, evm.deployer, 2**40
        )
    )
    after, _ = anyio.run(value)
    assert after / before == pytest.approx(Decimal("0.6"), rel=Decimal("0.001"))
    assert np.isfinite(float(after))


def test_an_unsubscribed_pool_is_left_out_of_the_reads_until_subscribed_again(evm):
    """Capability ``subscribe``: two pools streamed block by block; the V2 pool is
    unsubscribed after its first swap and subscribed again later. Its swap in between is
    never delivered, and its address is not in the node's eth_getLogs while unsubscribed."""
    evm.fund(evm.trader, Decimal(20), Decimal(100_000))
    start = evm.w3.eth.block_number + 1
    v2 = lambda: _v2_swap(evm, True, Decimal(1))  # noqa: E731
    v3 = lambda: evm.trader_swap_v3(True, Decimal(1))  # noqa: E731
    # Approvals mine blocks of their own; each swap is in its own block.
    blocks = {}
    for name, swap in (("v2a", v2), ("v3a", v3), ("v2b", v2), ("v3b", v3), ("v2c", v2)):
        blocks[name] = swap()["blockNumber"]
    end = evm.w3.eth.block_number
    read: list[tuple[int, list[str]]] = []

    async def go():
        venue = await connected(
            evm,
            [
                pool(evm, "uniswap-v2", symbol="WETH/USD"),
                pool(evm, "uniswap-v3", symbol="WETH/USDC3"),
            ],
            from_block=start,
            until_block=end,
            log_range=1,
        )
        real = venue.swap_logs

        async def recording(pools, lo, hi):
            read.append((lo, sorted(p.cfg.symbol for p in pools)))
            return await real(pools, lo, hi)

        venue.swap_logs = recording
        try:
            insts = {i.symbol: i for i in await venue.instruments()}
            assert "subscribe" in venue.capabilities
            got = []
            names = {number: name for name, number in blocks.items()}
            async for b in venue.stream_trades(list(insts.values())):
                # A tick's trade id is block number x 1,000,000 + log index.
                block = names[int(b.trade_id[0]) // 1_000_000]
                assert block.startswith("v2") == (b.instrument == "dex:WETH/USD")
                got.append(block)
                if block == "v2a":
                    venue.unsubscribe([insts["WETH/USD"]])
                if block == "v3b":
                    venue.subscribe([insts["WETH/USD"]])
            return got
        finally:
            await venue.close()

    got = anyio.run(go)
    assert got == ["v2a", "v3a", "v3b", "v2c"]
    by_block = dict(read)
    assert by_block[blocks["v2b"]] == ["WETH/USDC3"]  # the V2 pool was not asked for
    assert by_block[blocks["v2c"]] == ["WETH/USD", "WETH/USDC3"]
