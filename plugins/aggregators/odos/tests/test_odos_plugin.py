"""The odos aggregator through the real loader, and the core's aggregator conformance suite
against a local server speaking its API on the local anvil chain."""

from __future__ import annotations

from agg_setup import ServedConformance
from tradewind.testing import assert_plugin_installed
from tradewind.testing.conformance import AggregatorConformance

from tradewind_aggregator_odos import OdosAggregator


def test_plugin_is_installed():
    assert_plugin_installed("aggregators", "odos", OdosAggregator)


class TestConformance(ServedConformance, AggregatorConformance):
    plugin_class = OdosAggregator
    kind = "odos"


def _fixture(name):
    import json
    from pathlib import Path

    return json.loads((Path(__file__).parent / "fixtures" / name).read_text())


def test_a_documented_quote_and_assemble_parse_into_the_quote_model():
    from tradewind.execution import SwapRequest

    from tradewind_aggregator_odos import parse_assemble, parse_quote

    path_id, out, gas = parse_quote(_fixture("quote_v2.json"))
    assert (path_id, out, gas) == ("a1b2c3d4e5", 3419874120, 176512)
    req = SwapRequest(
        client_order_id="c",
        chain_id=1,
        sell_token="0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2",
        buy_token="0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
        sell_amount=10**18,
        wallet="0xd8da6bf26964af9d7eed9e03e53415d37aa96045",
    )
    q = parse_assemble(_fixture("assemble.json"), req, out, gas, path_id)
    assert q.buy_amount == 3419874120 and q.gas == 176512
    assert q.tx.to == q.spender == "0xcf5540fffcdc3d510b18bfca6d2b9987b0772559"
    assert q.tx.sender == req.wallet
