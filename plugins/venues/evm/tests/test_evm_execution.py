"""Rejections, replacement of a stuck transaction, wrong addresses, forks defined in config."""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from pathlib import Path

import anyio
import pytest
from evm_testkit import Sink, connected, make_config, pool
from tradewind.errors import ConfigError
from tradewind.model import Order, OrderStatus, OrderType, Side
from tradewind_venue_evm import EvmVenue
from tradewind_venue_evm.schemas import SwapReverted, SwapSettled, TransactionSent


def _market(cid: str, side: Side, qty: str) -> Order:
    return Order(
        client_order_id=cid,
        instrument="dex:WETH/USD",
        side=side,
        type=OrderType.MARKET,
        quantity=Decimal(qty),
    )


async def _wait_for(pred, timeout: float = 20.0) -> None:
    with anyio.fail_after(timeout):
        while not pred():
            await anyio.sleep(0.02)


def _pending_hashes(evm) -> set[str]:
    content = evm.rpc("txpool_content")["result"]
    return {
        tx["hash"] for by_nonce in content.get("pending", {}).values() for tx in by_nonce.values()
    }


def _pending(evm) -> int:
    content = evm.rpc("txpool_content")["result"]
    return sum(len(v) for v in content.get("pending", {}).values())


def test_a_swap_front_run_past_its_slippage_bound_is_a_rejection_with_the_revert_reason(evm):
    """The trader's bigger buy lands first in the same block: the swap reverts on chain."""
    evm.fund(evm.wallet, Decimal(0), Decimal(10_000))
    evm.fund(evm.trader, Decimal(0), Decimal(400_000))
    usd = evm.erc20(evm.d.usd)
    evm.send(usd.functions.approve(evm.d.v2_router, 2**256 - 1), evm.trader)

    async def go():
        venue = await connected(evm, [pool(evm, "uniswap-v2")], slippage="0.01")
        sink = Sink()
        venue.set_sink(sink)
        try:
            # Approve first (its own transaction), so only the swap waits in the pool.
            await venue._ensure_allowance(
                venue.pool("WETH/USD").quote, evm.d.v2_router, 10_000 * 10**18, "setup"
            )
            evm.set_automine(False)
            out: dict = {}

            async def submit():
                out["report"] = await venue.submit_order(_market("fr", Side.BUY, "2"))

            async with anyio.create_task_group() as tg:
                tg.start_soon(submit)
                await _wait_for(lambda: _pending(evm) == 1)
                router = evm.contract("UniswapV2Router02", evm.d.v2_router)
                # A much higher tip: the trader's buy is ordered first in the block.
                h = router.functions.swapExactTokensForTokens(
                    300_000 * 10**18, 0, [evm.d.usd, evm.d.weth], evm.trader, 2**40
                ).transact(
                    {
                        "from": evm.trader,
                        "maxPriorityFeePerGas": 50 * 10**9,
                        "maxFeePerGas": 100 * 10**9,
                        "gas": 300_000,
                    }
                )
                await _wait_for(lambda: _pending(evm) == 2)
                evm.mine()
            return out["report"], sink, h
        finally:
            evm.set_automine(True)
            await venue.close()

    report, sink, trader_tx = anyio.run(go)
    assert evm.w3.eth.get_transaction_receipt(trader_tx)["status"] == 1
    assert report.status is OrderStatus.REJECTED
    assert report.reason == "swap reverted: UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT"
    (reverted,) = [e for e in sink.events if isinstance(e, SwapReverted)]
    receipt = evm.w3.eth.get_transaction_receipt(reverted.tx_hash)
    assert receipt["status"] == 0
    assert int(reverted.gas.amount * 10**18) == receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert not sink.fills


def test_a_swap_that_would_revert_is_rejected_before_it_is_sent(evm):
    """A gas estimate that reverts is a rejection with the reason; nothing is signed."""
    evm.fund(evm.wallet, Decimal(2), Decimal(0))

    async def go():
        venue = await connected(evm, [pool(evm, "uniswap-v3")])
        try:
            p = venue.pool("WETH/USD")
            to, data = p.swap_call(p.base, 10**18, 10**30, venue.wallet, 2**40)
            await venue._ensure_allowance(p.base, p.spender(), 10**18, "x")
            nonce = evm.w3.eth.get_transaction_count(evm.wallet)
            with pytest.raises(Exception) as info:
                await venue._estimate(to, data)
            return info.value, nonce
        finally:
            await venue.close()

    exc, nonce = anyio.run(go)
    from tradewind_venue_evm.venue import revert_reason

    assert revert_reason(exc) == "Too little received"
    assert evm.w3.eth.get_transaction_count(evm.wallet) == nonce


def test_a_stuck_swap_is_replaced_with_higher_fees_and_fills_once(evm):
    evm.fund(evm.wallet, Decimal(3), Decimal(0))

    async def go():
        venue = await connected(
            evm, [pool(evm, "uniswap-v2")], replace_after_s=1.0, approvals="unlimited"
        )
        sink = Sink()
        venue.set_sink(sink)
        try:
            p = venue.pool("WETH/USD")
            await venue._ensure_allowance(p.base, p.spender(), 1, "setup")
            evm.set_automine(False)
            out: dict = {}

            async def submit():
                out["report"] = await venue.submit_order(_market("stuck", Side.SELL, "1"))

            async with anyio.create_task_group() as tg:
                tg.start_soon(submit)

                def replaced_in_pool() -> bool:
                    # The event is emitted before the broadcast: wait until the node's pool
                    # holds the replacement, so the block mines it and not the original.
                    sent = [
                        e.tx_hash
                        for e in sink.events
                        if isinstance(e, TransactionSent) and e.client_order_id == "stuck"
                    ]
                    return len(sent) >= 2 and _pending_hashes(evm) == {sent[-1]}

                await _wait_for(replaced_in_pool)
                evm.mine()
            return out["report"], sink
        finally:
            evm.set_automine(True)
            await venue.close()

    report, sink = anyio.run(go)
    sent = [
        e for e in sink.events if isinstance(e, TransactionSent) and e.client_order_id == "stuck"
    ]
    assert len({e.nonce for e in sent}) == 1 and len({e.tx_hash for e in sent}) == len(sent)
    assert sent[1].replaces == sent[0].tx_hash
    assert report.status is OrderStatus.FILLED, report
    (settled,) = [e for e in sink.events if isinstance(e, SwapSettled)]
    assert report.status is OrderStatus.FILLED and len(sink.fills) == 1
    # The mined one is the last replacement (the original and earlier ones left the pool).
    assert settled.tx_hash == sent[-1].tx_hash
    lines = [json.loads(x) for x in Path("evm-transactions.jsonl").read_text().splitlines()]
    signed = [x for x in lines if x["op"] == "signed" and x["cid"] == "stuck"]
    assert [x["hash"] for x in signed] == [e.tx_hash for e in sent]
    from eth_account.typed_transactions import TypedTransaction
    from hexbytes import HexBytes

    txs = [TypedTransaction.from_bytes(HexBytes(x["raw"])).as_dict() for x in signed]
    assert len({t["nonce"] for t in txs}) == 1
    for old, new in itertools.pairwise(txs):
        # Each replacement raises both fee caps by at least fee_bump (12.5 %).
        assert new["maxFeePerGas"] * 8 >= old["maxFeePerGas"] * 9
        assert new["maxPriorityFeePerGas"] * 8 >= old["maxPriorityFeePerGas"] * 9
    # One swap on chain: the wallet's WETH went down by exactly one.
    weth = evm.erc20(evm.d.weth)
    assert weth.functions.balanceOf(evm.wallet).call() == 2 * 10**18


def test_a_wrong_router_address_is_one_clear_error_at_connect(evm):
    cfg = make_config(evm, [pool(evm, "uniswap-v2")])
    wrong = "0x000000000000000000000000000000000000dEaD"
    table_dex = cfg.chains["anvil"].dexes["uniswap-v2"]
    import attrs

    chains = {
        "anvil": attrs.evolve(
            cfg.chains["anvil"],
            dexes={
                **cfg.chains["anvil"].dexes,
                "uniswap-v2": attrs.evolve(table_dex, router=wrong),
            },
        )
    }
    venue = EvmVenue(config=attrs.evolve(cfg, chains=chains), instance="dex")

    async def go():
        try:
            await venue.connect()
        finally:
            await venue.close()

    with pytest.raises(ConfigError) as info:
        anyio.run(go)
    msg = str(info.value)
    assert msg == (
        "no contract code on chain 'anvil' (id 31337) at uniswap-v2.router = "
        "0x000000000000000000000000000000000000dEaD: a wrong address for this chain, or the "
        "wrong chain @ $.venues.dex.dexes"
    )


def test_the_wrong_chain_behind_the_rpc_url_is_an_error(evm):
    async def go():
        venue = await connected(evm, [pool(evm, "uniswap-v2")], chain="ethereum")
        await venue.close()

    with pytest.raises(
        ConfigError, match="serves chain id 31337, but chain 'ethereum' has chain id 1"
    ):
        anyio.run(go)


def test_a_fork_defined_only_in_config_trades(evm):
    """A second Uniswap V2 deployment under another name: a [dexes] entry, no code."""
    evm.fund(evm.wallet, Decimal(2), Decimal(0))
    fork = {
        "family": "uniswap-v2",
        "factory": evm.d.fork_factory,
        "router": evm.d.fork_router,
        "init_code_hash": "0x96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f",
        "fee": "0.003",
    }

    async def go():
        venue = await connected(evm, [pool(evm, "myswap")], dexes={"myswap": fork})
        sink = Sink()
        venue.set_sink(sink)
        try:
            quoted = await venue.quote("dex:WETH/USD", Side.SELL, Decimal(1))
            report = await venue.submit_order(_market("fork", Side.SELL, "1"))
            return venue.pool("WETH/USD").address, quoted, report, sink
        finally:
            await venue.close()

    address, (_amount_in, out), report, sink = anyio.run(go)
    pair = (
        evm.contract("UniswapV2Factory", evm.d.fork_factory)
        .functions.getPair(evm.d.weth, evm.d.usd)
        .call()
    )
    assert address == pair
    assert report.status is OrderStatus.FILLED
    (settled,) = [e for e in sink.events if isinstance(e, SwapSettled)]
    assert settled.amount_out_wei == out
    receipt = evm.w3.eth.get_transaction_receipt(settled.tx_hash)
    assert receipt["to"] == evm.d.fork_router
    # The fork's pool is priced differently (210,000 USD / 100 WETH), so it is really that pool.
    assert Decimal(2000) < sink.fills[0].price < Decimal(2100)


def test_limit_orders_are_refused_unless_emulated(evm):
    async def go():
        venue = await connected(evm, [pool(evm, "uniswap-v2")])
        try:
            return await venue.submit_order(
                Order(
                    client_order_id="l1",
                    instrument="dex:WETH/USD",
                    side=Side.BUY,
                    type=OrderType.LIMIT,
                    quantity=Decimal(1),
                    price=Decimal(1500),
                )
            )
        finally:
            await venue.close()

    report = anyio.run(go)
    assert report.status is OrderStatus.REJECTED
    assert report.reason.startswith(
        "limit orders do not exist on an AMM pool; set emulate_limits = true"
    )


def test_an_emulated_limit_buy_swaps_when_the_pool_trades_through_it(evm):
    evm.fund(evm.wallet, Decimal(0), Decimal(5_000))
    evm.fund(evm.trader, Decimal(40), Decimal(0))
    start = evm.w3.eth.block_number + 1

    async def go():
        venue = await connected(
            evm, [pool(evm, "uniswap-v3")], emulate_limits=True, from_block=start
        )
        sink = Sink()
        venue.set_sink(sink)
        try:
            resting = await venue.submit_order(
                Order(
                    client_order_id="lim",
                    instrument="dex:WETH/USD",
                    side=Side.BUY,
                    type=OrderType.LIMIT,
                    quantity=Decimal(1),
                    price=Decimal(1990),
                )
            )
            evm.trader_swap_v3(True, Decimal(10))  # the taker sells WETH: the price falls
            insts = list(await venue.instruments())
            async for _batch in venue.stream_trades(insts):
                report = await venue.fetch_order("dex:WETH/USD", "lim")
                if report is not None and report.status.is_terminal:
                    break
            return resting, await venue.fetch_order("dex:WETH/USD", "lim"), sink
        finally:
            await venue.close()

    resting, final, sink = anyio.run(go)
    assert resting.status is OrderStatus.ACCEPTED and "emulated" in resting.reason
    assert final is not None and final.status is OrderStatus.FILLED
    (trigger,) = [e for e in sink.events if type(e).__name__ == "EmulatedLimitTriggered"]
    assert trigger.limit_price == Decimal(1990) and trigger.pool_price <= Decimal(1990)
    (fill,) = sink.fills
    assert fill.price <= Decimal(1990) and fill.quantity >= Decimal(1)
    signed = [json.loads(x) for x in Path("evm-transactions.jsonl").read_text().splitlines()]
    (swap,) = [x for x in signed if x["op"] == "signed" and x["cid"] == "lim"]
    assert swap["meta"]["emulated"] is True


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (
            {"gas_limit_cap": 60_000},
            r"^gas limit \d+ \(estimate \d+ x 1\.5\) is above gas_limit_cap 60000 "
            r"@ \$\.venues\.dex\.gas_limit_cap$",
        ),
        (
            {"max_fee_per_gas_gwei": "0.000001"},
            r"^fee per gas [\d.]+ gwei is above max_fee_per_gas_gwei 0\.000001 "
            r"@ \$\.venues\.dex\.max_fee_per_gas_gwei$",
        ),
    ],
    ids=["gas-limit-cap", "fee-cap"],
)
def test_gas_caps_refuse_the_swap_before_anything_is_signed(evm, extra, reason):
    import re

    evm.fund(evm.wallet, Decimal(2), Decimal(0))
    evm.send(
        evm.contract("WETH9", evm.d.weth).functions.approve(evm.d.v2_router, 2**256 - 1), evm.wallet
    )
    nonce = evm.w3.eth.get_transaction_count(evm.wallet)

    async def go():
        venue = await connected(evm, [pool(evm, "uniswap-v2")], **extra)
        try:
            return await venue.submit_order(_market("capped", Side.SELL, "1"))
        finally:
            await venue.close()

    report = anyio.run(go)
    assert report.status is OrderStatus.REJECTED
    assert re.match(reason, report.reason), report.reason
    assert evm.w3.eth.get_transaction_count(evm.wallet) == nonce
    assert not Path("evm-transactions.jsonl").read_text()


def test_an_order_manager_timeout_never_abandons_a_sent_swap(evm):
    """The host's call timeout (0.3 s) is shorter than the block: the swap is still booked once."""
    from tradewind.trading.orders import OrderManager, OrderSettings
    from tradewind.trading.portfolio import Portfolio

    evm.fund(evm.wallet, Decimal(2), Decimal(0))
    evm.send(
        evm.contract("WETH9", evm.d.weth).functions.approve(evm.d.v2_router, 2**256 - 1), evm.wallet
    )
    nonce = evm.w3.eth.get_transaction_count(evm.wallet)

    async def go():
        venue = await connected(evm, [pool(evm, "uniswap-v2")])
        try:
            (inst,) = await venue.instruments()
            pf = Portfolio({inst.key: inst}, Decimal(10_000))
            om = OrderManager(
                pf, "run", settings=OrderSettings(call_timeout_s=0.3), sleep=anyio.sleep
            )
            venue.set_sink(om)
            evm.set_automine(False)
            out: dict = {}

            async def submit():
                out["report"] = await om.submit(venue, _market("slow", Side.SELL, "1"), 0)

            async with anyio.create_task_group() as tg:
                tg.start_soon(submit)
                await _wait_for(lambda: _pending(evm) == 1)
                await anyio.sleep(1.0)  # a block time well past the host's timeout
                evm.mine()
            return out["report"], om, pf
        finally:
            evm.set_automine(True)
            await venue.close()

    report, om, pf = anyio.run(go)
    assert report.status is OrderStatus.FILLED
    assert len(om.fills) == 1 and om.duplicate_fills == 0
    assert pf.position("dex:WETH/USD").quantity == Decimal(-1)
    assert evm.w3.eth.get_transaction_count(evm.wallet) == nonce + 1


def test_a_transaction_the_node_refuses_is_a_rejection_and_never_re_broadcast(evm):
    """No ether for gas: the node refuses the approval; the journal closes it, a restart
    connects without re-sending it, and the nonce is still free."""
    evm.fund(evm.wallet, Decimal(2), Decimal(0))
    evm.rpc("anvil_setBalance", evm.wallet, "0x0")
    nonce = evm.w3.eth.get_transaction_count(evm.wallet)

    async def go():
        venue = await connected(evm, [pool(evm, "uniswap-v2")])
        try:
            report = await venue.submit_order(_market("broke", Side.SELL, "1"))
        finally:
            await venue.close()
        again = await connected(evm, [pool(evm, "uniswap-v2")])  # the restart
        await again.close()
        return report

    report = anyio.run(go)
    assert report.status is OrderStatus.REJECTED
    assert report.reason.startswith("the node refused the transaction: ")
    assert "insufficient funds" in report.reason.lower()
    lines = [json.loads(x) for x in Path("evm-transactions.jsonl").read_text().splitlines()]
    assert [(x["op"], x.get("status")) for x in lines] == [
        ("signed", None),
        ("outcome", "rejected"),
    ]
    assert _pending(evm) == 0 and evm.w3.eth.get_transaction_count(evm.wallet) == nonce
