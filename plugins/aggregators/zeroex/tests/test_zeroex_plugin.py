"""The zeroex aggregator through the real loader, and the core's aggregator conformance suite
against a local server speaking its API on the local anvil chain."""

from __future__ import annotations

import pytest
from agg_setup import ServedConformance
from tradewind.testing import assert_plugin_installed
from tradewind.testing.conformance import AggregatorConformance

from tradewind_aggregator_zeroex import ZeroExAggregator


def test_plugin_is_installed():
    assert_plugin_installed("aggregators", "zeroex", ZeroExAggregator)


class TestConformance(ServedConformance, AggregatorConformance):
    plugin_class = ZeroExAggregator
    kind = "zeroex"


def _fixture(name):
    import json
    from pathlib import Path

    return json.loads((Path(__file__).parent / "fixtures" / name).read_text())


def test_a_documented_quote_parses_into_the_quote_model():
    from tradewind.execution import AggregatorError, SwapRequest

    from tradewind_aggregator_zeroex import parse_quote

    data = _fixture("quote_v2.json")
    req = SwapRequest(
        client_order_id="c",
        chain_id=1,
        sell_token=data["sellToken"],
        buy_token=data["buyToken"],
        sell_amount=100000000,
        wallet="0xd8da6bf26964af9d7eed9e03e53415d37aa96045",
    )
    q = parse_quote(data, req)
    assert (q.buy_amount, q.min_buy_amount, q.gas) == (100037537, 99037162, 288079)
    assert q.route == ("SolidlyV3 100%",)
    assert q.spender == "0x0000000000001ff3684f28c67538d4d072c22734" == q.tx.to
    no_liquidity = {**data, "liquidityAvailable": False}
    with pytest.raises(AggregatorError, match="liquidityAvailable is false"):
        parse_quote(no_liquidity, req)
