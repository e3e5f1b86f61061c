"""Market orders as exact-input swaps on the real Uniswap V2/V3 and Balancer V2 contracts.

Each test quotes, swaps through the venue, and checks the result against the chain itself:
the wallet's token balances and ether balance before and after, and the receipt's Transfers.
"""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest
from evm_testkit import Sink, connected, pool, wei
from tradewind.model import Order, OrderStatus, OrderType, Side
from tradewind.trading.accounts import Account
from tradewind_venue_evm.schemas import ApprovalSettled, Money, SwapSettled, transfers

CASES = [
    ("uniswap-v2", {}),
    ("uniswap-v3", {"router": "swap_router"}),
    ("uniswap-v3", {"router": "swap_router02"}),
    ("balancer-v2", {}),
]


def _market(cid: str, side: Side, qty: str) -> Order:
    return Order(
        client_order_id=cid,
        instrument="dex:WETH/USD",
        side=side,
        type=OrderType.MARKET,
        quantity=Decimal(qty),
    )


@pytest.mark.parametrize(
    ("dex", "extra"), CASES, ids=["v2", "v3-swaprouter", "v3-swaprouter02", "balancer-v2"]
)
@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_quote_equals_realised_and_fill_equals_the_chain(evm, dex, extra, side):
    evm.fund(evm.wallet, Decimal(5), Decimal(20_000))
    weth, usd = evm.erc20(evm.d.weth), evm.erc20(evm.d.usd)

    async def go():
        venue = await connected(evm, [pool(evm, dex, **extra)])
        sink = Sink()
        venue.set_sink(sink)
        try:
            before = evm.w3.eth.block_number
            (inst,) = await venue.instruments()
            account = Account(venue="dex", balances=dict(await venue.fetch_balances()))
            amount_in, expected_out = await venue.quote("dex:WETH/USD", side, Decimal("1.5"))
            report = await venue.submit_order(_market("c1", side, "1.5"))
            return (
                sink,
                report,
                before,
                amount_in,
                expected_out,
                inst,
                account,
                dict(await venue.fetch_balances()),
            )
        finally:
            await venue.close()

    sink, report, before, amount_in, expected_out, inst, account, chain_after = anyio.run(go)
    assert report.status is OrderStatus.FILLED, report.reason
    (settled,) = [e for e in sink.events if isinstance(e, SwapSettled)]
    (fill,) = sink.fills
    # Quote equals realised output (nothing else traded between the quote and the swap).
    assert settled.amount_in_wei == amount_in
    assert settled.amount_out_wei == expected_out
    # The fill equals the wallet's balance changes on chain, to the wei.
    after = evm.w3.eth.block_number
    d_weth = weth.functions.balanceOf(evm.wallet).call(
        block_identifier=after
    ) - weth.functions.balanceOf(evm.wallet).call(block_identifier=before)
    d_usd = usd.functions.balanceOf(evm.wallet).call(
        block_identifier=after
    ) - usd.functions.balanceOf(evm.wallet).call(block_identifier=before)
    d_eth = evm.w3.eth.get_balance(evm.wallet, after) - evm.w3.eth.get_balance(evm.wallet, before)
    assert wei(fill.quantity) == abs(d_weth)
    assert d_weth > 0 if side is Side.BUY else d_weth < 0
    notional = (fill.quantity * fill.price).quantize(Decimal(1).scaleb(-18))
    assert wei(notional) == abs(d_usd)
    if side is Side.SELL:
        assert fill.quantity == Decimal("1.5")
    else:
        assert fill.quantity >= Decimal("1.5")
    # Gas: the approval and the swap, each its own transaction, paid in ether to the wei.
    approvals = [e for e in sink.events if isinstance(e, ApprovalSettled)]
    assert len(approvals) == 1 and approvals[0].amount_wei == amount_in  # exact by default
    gas_wei = wei(settled.gas.amount) + wei(approvals[0].gas.amount)
    assert settled.gas.currency == "ETH" and -d_eth == gas_wei
    receipt = evm.w3.eth.get_transaction_receipt(settled.tx_hash)
    assert wei(settled.gas.amount) == receipt["gasUsed"] * receipt["effectiveGasPrice"]
    # The receipt's own Transfer logs carry the same amounts.
    moved = [(t, a) for t, src, dst, a in transfers(receipt) if evm.wallet in (src, dst)]
    assert sorted(moved) == sorted([(evm.d.weth, abs(d_weth)), (evm.d.usd, abs(d_usd))])
    assert fill.trade_id == settled.tx_hash and report.venue_order_id == settled.tx_hash
    # The fill's fee is the gas of the approval and the swap, in ether: a cost in the native
    # token, taken from a third currency of the account (not from the traded tokens).
    assert (fill.fee_currency, fill.fee_asset) == ("ETH", "other")
    assert wei(fill.fee) == gas_wei
    # Pool fee: the pool's rate on the input amount, in the token it was charged in (already
    # inside the realised price, reported on SwapSettled).
    rate = {
        "uniswap-v2": Decimal("0.003"),
        "uniswap-v3": Decimal("0.003"),
        "balancer-v2": Decimal("0.003"),
    }[dex]
    if side is Side.BUY:
        assert settled.pool_fee == Money(amount=notional * rate, currency="USD")
    else:
        assert settled.pool_fee == Money(amount=fill.quantity * rate, currency="WETH")
    # The host's account, seeded from the wallet and moved by the fill, equals the wallet on
    # chain afterwards in every currency, native token included, exactly.
    assert (inst.base, inst.quote) == ("WETH", "USD")
    account.apply_fill(fill, inst, Decimal(0))
    assert account.balances == chain_after


def test_resend_of_a_client_order_id_sends_nothing(evm):
    evm.fund(evm.wallet, Decimal(5), Decimal(0))

    async def go():
        venue = await connected(evm, [pool(evm, "uniswap-v2")])
        try:
            first = await venue.submit_order(_market("once", Side.SELL, "1"))
            nonce = evm.w3.eth.get_transaction_count(evm.wallet)
            again = await venue.submit_order(_market("once", Side.SELL, "1"))
            return first, again, nonce
        finally:
            await venue.close()

    first, again, nonce = anyio.run(go)
    assert first.status is OrderStatus.FILLED and again == first
    assert evm.w3.eth.get_transaction_count(evm.wallet) == nonce


def test_a_spot_sell_sells_only_what_is_held(evm):
    evm.fund(evm.wallet, Decimal("0.5"), Decimal(0))

    async def go():
        venue = await connected(evm, [pool(evm, "uniswap-v3")])
        try:
            return await venue.submit_order(_market("too-much", Side.SELL, "1"))
        finally:
            await venue.close()

    report = anyio.run(go)
    assert report.status is OrderStatus.REJECTED
    assert "spot: a sell sells what is held" in report.reason and "0.5 WETH" in report.reason


def test_unlimited_approval_is_sent_once(evm):
    evm.fund(evm.wallet, Decimal(5), Decimal(0))

    async def go():
        venue = await connected(evm, [pool(evm, "uniswap-v2")], approvals="unlimited")
        sink = Sink()
        venue.set_sink(sink)
        try:
            await venue.submit_order(_market("a", Side.SELL, "1"))
            await venue.submit_order(_market("b", Side.SELL, "1"))
            return sink
        finally:
            await venue.close()

    sink = anyio.run(go)
    approvals = [e for e in sink.events if isinstance(e, ApprovalSettled)]
    assert [a.amount_wei for a in approvals] == [2**256 - 1]
    assert len(sink.fills) == 2


def test_a_legacy_gas_chain_swaps_with_gas_price(evm):
    """BSC and Fantom price gas the legacy way: the venue signs type-0 transactions there."""
    evm.fund(evm.wallet, Decimal(2), Decimal(0))
    from evm_testkit import config_table
    from tradewind._serde import structure
    from tradewind_venue_evm import EvmConfig, EvmVenue

    table = config_table(evm, [pool(evm, "uniswap-v2")])
    table["chains"]["anvil"]["gas"] = "legacy"

    async def go():
        venue = EvmVenue(config=structure(table, EvmConfig), instance="dex")
        await venue.connect()
        sink = Sink()
        venue.set_sink(sink)
        try:
            report = await venue.submit_order(_market("legacy", Side.SELL, "1"))
            return report, sink
        finally:
            await venue.close()

    report, sink = anyio.run(go)
    assert report.status is OrderStatus.FILLED
    (settled,) = [e for e in sink.events if isinstance(e, SwapSettled)]
    tx = evm.w3.eth.get_transaction(settled.tx_hash)
    assert tx["type"] == 0 and "maxFeePerGas" not in tx
    receipt = evm.w3.eth.get_transaction_receipt(settled.tx_hash)
    assert wei(settled.gas.amount) == receipt["gasUsed"] * tx["gasPrice"]
