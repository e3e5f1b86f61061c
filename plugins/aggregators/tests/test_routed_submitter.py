"""What the order manager calls for a market order on a ``swap:evm`` venue
(tradewind.execution.host.RoutedSubmitter): the venue's gas terms value the quotes, the
routed swap's report is the order's; a second submit of the same client order id sends
nothing; an order no source can send ends as a rejection naming every source's failure,
with nothing signed."""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest
from agg_route import market, quotes, routed
from agg_servers import Behaviour
from agg_setup import KEY_ENV, TEST_KEY
from tradewind.errors import OrderRejectedError
from tradewind.execution.host import RoutedSubmitter
from tradewind.model import OrderStatus


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, TEST_KEY)


def test_a_market_order_is_routed_once_and_its_report_is_the_swaps(agg_chain, tmp_path):
    chain = agg_chain
    chain.fund(chain.wallet, Decimal(3), Decimal(0))

    async def go():
        async with routed(chain, tmp_path) as r:
            submit = RoutedSubmitter(r.venue, r.router, r.executor, slippage="0.005")
            order = market("sub-1")
            report = await submit(order)
            nonce = chain.w3.eth.get_transaction_count(chain.wallet)
            again = await submit(order)
            sent_after = chain.w3.eth.get_transaction_count(chain.wallet)
            # The gas terms the router was given: the chain's fee per gas, and USD wei per
            # native wei at the pool's mid price (WETH is the chain's wrapped native token).
            gas_price, per_native = await r.venue.swap_terms("dex:WETH/USD", order.side)
            mid = await r.venue.mid_price("dex:WETH/USD")
            return (
                report,
                again,
                nonce,
                sent_after,
                gas_price,
                per_native,
                mid,
                quotes(r.journal, "sub-1"),
            )

    report, again, nonce, sent_after, gas_price, per_native, mid, rows = anyio.run(go)
    assert report.status is OrderStatus.FILLED and report.filled_quantity == Decimal(1)
    chosen = [k for k, v in rows.items() if v["status"] == "filled"]
    assert len(chosen) == 1 and report.venue_order_id == rows[chosen[0]]["tx_hash"]
    # The second submit answered from the venue's record: no transaction was sent.
    assert again.status is OrderStatus.FILLED and sent_after == nonce
    assert gas_price > 0 and per_native == mid
    assert int(rows[chosen[0]]["gas_cost_out"]) > 0


def test_an_order_no_source_can_send_is_rejected_naming_each_failure(agg_chain, tmp_path):
    chain = agg_chain
    chain.fund(chain.wallet, Decimal(3), Decimal(0))
    start_nonce = chain.w3.eth.get_transaction_count(chain.wallet)
    behaviours = {
        k: Behaviour(venue=v, fail="500")
        for k, v in {"oneinch": "v3", "zeroex": "v2", "paraswap": "fork", "odos": "v2"}.items()
    }

    async def go():
        async with routed(chain, tmp_path, behaviours, direct=False) as r:
            submit = RoutedSubmitter(r.venue, r.router, r.executor, slippage="0.005")
            with pytest.raises(OrderRejectedError) as info:
                await submit(market("none-1"))
            return str(info.value), r.venue.was_sent("none-1"), quotes(r.journal, "none-1")

    message, was_sent, rows = anyio.run(go)
    assert "order none-1: no quote could be sent" in message
    for name in ("oneinch", "zeroex", "paraswap", "odos"):
        assert f"{name}: failed" in message and rows[name]["status"] == "failed"
    assert not was_sent
    assert chain.w3.eth.get_transaction_count(chain.wallet) == start_nonce
