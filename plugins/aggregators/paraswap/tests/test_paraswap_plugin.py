"""The paraswap aggregator through the real loader, and the core's aggregator conformance suite
against a local server speaking its API on the local anvil chain."""

from __future__ import annotations

import pytest
from agg_setup import ServedConformance
from tradewind.testing import assert_plugin_installed
from tradewind.testing.conformance import AggregatorConformance

from tradewind_aggregator_paraswap import ParaSwapAggregator


def test_plugin_is_installed():
    assert_plugin_installed("aggregators", "paraswap", ParaSwapAggregator)


class TestConformance(ServedConformance, AggregatorConformance):
    plugin_class = ParaSwapAggregator
    kind = "paraswap"


def _fixture(name):
    import json
    from pathlib import Path

    return json.loads((Path(__file__).parent / "fixtures" / name).read_text())


def test_documented_prices_and_transactions_parse_into_the_quote_model():
    from tradewind.execution import AggregatorError, SwapRequest

    from tradewind_aggregator_paraswap import parse_price, parse_transaction

    route = parse_price(_fixture("prices_v62.json"))
    req = SwapRequest(
        client_order_id="c",
        chain_id=1,
        sell_token=route["srcToken"],
        buy_token=route["destToken"],
        sell_amount=10**18,
        wallet="0xd8da6bf26964af9d7eed9e03e53415d37aa96045",
    )
    q = parse_transaction(_fixture("transactions_v62.json"), route, req)
    assert (q.buy_amount, q.gas) == (3420125791, 102000)
    assert q.route == ("UniswapV3 100%",)
    assert q.spender == q.tx.to == "0x6a000f20005980200259b80c5102003040001068"
    with pytest.raises(AggregatorError, match="priceRoute has no field destAmount"):
        parse_price({"priceRoute": {"srcAmount": "1"}})
