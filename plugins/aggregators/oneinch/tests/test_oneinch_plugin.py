"""The oneinch aggregator through the real loader, and the core's aggregator conformance suite
against a local server speaking its API on the local anvil chain."""

from __future__ import annotations

from agg_setup import ServedConformance
from tradewind.testing import assert_plugin_installed
from tradewind.testing.conformance import AggregatorConformance

from tradewind_aggregator_oneinch import OneInchAggregator


def test_plugin_is_installed():
    assert_plugin_installed("aggregators", "oneinch", OneInchAggregator)


class TestConformance(ServedConformance, AggregatorConformance):
    plugin_class = OneInchAggregator
    kind = "oneinch"


def _fixture(name):
    import json
    from pathlib import Path

    return json.loads((Path(__file__).parent / "fixtures" / name).read_text())


def test_a_documented_swap_answer_parses_into_the_quote_model():
    from tradewind.execution import SwapRequest

    from tradewind_aggregator_oneinch import parse_swap

    req = SwapRequest(
        client_order_id="c",
        chain_id=1,
        sell_token="0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
        buy_token="0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
        sell_amount=10**18,
        wallet="0xd8da6bf26964af9d7eed9e03e53415d37aa96045",
    )
    q = parse_swap(_fixture("swap_v6.json"), req)
    assert q.buy_amount == 3418529158 and q.min_buy_amount == 3401436512
    assert q.gas == 187433 and q.route == ("UNISWAP_V3 100%",)
    assert q.tx is not None and q.tx.to == q.spender == "0x111111125421ca6dc452d289314280a0f8842a65"
    assert q.tx.sender == req.wallet and q.tx.value == 0
