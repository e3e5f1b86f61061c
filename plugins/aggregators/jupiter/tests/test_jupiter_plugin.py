"""Jupiter through the real loader, its API client against the local server, and the parts of
the core's aggregator conformance suite that apply to a Solana-only aggregator."""

from __future__ import annotations

import base64
from decimal import Decimal

import anyio
import pytest
from solders.transaction import VersionedTransaction
from tradewind.execution import AggregatorError, SwapRequest
from tradewind.testing import assert_plugin_installed
from tradewind.testing.conformance import _Suite
from tradewind_aggregator_jupiter import JupiterAggregator, JupiterConfig, parse_quote

pytest_plugins = "tradewind.testing"


def test_plugin_is_installed():
    assert_plugin_installed("aggregators", "jupiter", JupiterAggregator)


class TestConformance(_Suite):
    """Plugin attributes and a config that refuses unknown keys (the suite's shared part; its
    EVM quote tests do not apply: Jupiter serves no EVM chain, see the tests below)."""

    plugin_class = JupiterAggregator


def agg(sol) -> JupiterAggregator:
    return JupiterAggregator(config=JupiterConfig(base_url=sol.jupiter.url))


def test_an_evm_request_is_refused_without_asking(sol):
    async def go() -> None:
        a = agg(sol)
        try:
            assert not a.serves(1) and a.routers(1) == []
            with pytest.raises(AggregatorError, match="not configured") as info:
                await a.quote_swap(
                    SwapRequest(
                        client_order_id="c",
                        chain_id=1,
                        sell_token="0x" + "1" * 40,
                        buy_token="0x" + "2" * 40,
                        sell_amount=1,
                        wallet="0x" + "3" * 40,
                    )
                )
        finally:
            await a.close()
        assert info.value.kind == "unsupported" and sol.jupiter.requests == []

    anyio.run(go)


def test_quote_and_swap_give_a_transaction_for_the_wallet_signed_by_the_maker(sol):
    m = sol.market

    async def go() -> None:
        a = agg(sol)
        try:
            q = await a.quote_sol(
                input_mint=str(m.usdc.address),
                output_mint=str(m.meme.address),
                amount=50 * 10**9,
                swap_mode="ExactOut",
                slippage_bps=30,
            )
            built = await a.swap_sol(
                q,
                user=str(m.wallet.pubkey()),
                compute_unit_limit=0,
                compute_unit_price_micro_lamports=1234,
            )
        finally:
            await a.close()
        assert q.out_amount == 50 * 10**9 and q.in_amount == 1_001_000  # 50 x 0.02 x 1.001
        assert q.other_amount_threshold == 1_004_003  # +0.3 %, rounded up
        assert q.route == ("RFQ 100%",)
        tx = VersionedTransaction.from_bytes(base64.b64decode(built.tx_b64))
        assert tx.message.account_keys[0] == m.wallet.pubkey()
        assert tx.verify_with_results()[1:] == [True]  # the maker's signature is applied
        assert built.compute_unit_limit > 0  # dynamic: simulated units + 20 %
        assert built.prioritization_fee_lamports == -(-built.compute_unit_limit * 1234 // 1_000_000)
        path, body = sol.jupiter.requests[-1]
        assert path == "/swap" and body["dynamicComputeUnitLimit"] is True
        assert body["quoteResponse"] == dict(q.raw)

    anyio.run(go)


@pytest.mark.parametrize(
    ("fail", "kind"), [("400", "api"), ("malformed", "malformed"), ("500", "http")]
)
def test_api_failures_become_clear_errors(sol, fail, kind):
    sol.jupiter.fail = fail
    m = sol.market

    async def go() -> None:
        a = agg(sol)
        try:
            with pytest.raises(AggregatorError) as info:
                await a.quote_sol(
                    input_mint=str(m.usdc.address),
                    output_mint=str(m.meme.address),
                    amount=1,
                    swap_mode="ExactIn",
                    slippage_bps=50,
                )
        finally:
            await a.close()
            await a.close()
        assert info.value.kind == kind and "jupiter" in str(info.value)
        if fail == "400":
            assert "HTTP 400" in str(info.value) and "Could not find any route" in str(info.value)

    anyio.run(go)


def test_a_quote_missing_a_field_is_malformed_by_name():
    with pytest.raises(AggregatorError, match="no field outAmount"):
        parse_quote(
            {
                "inputMint": "a",
                "outputMint": "b",
                "swapMode": "ExactIn",
                "inAmount": "1",
                "otherAmountThreshold": "1",
                "slippageBps": 50,
                "routePlan": [],
            }
        )


def test_the_route_summary_lists_each_step_with_its_share():
    q = parse_quote(
        {
            "inputMint": "So11111111111111111111111111111111111111112",
            "inAmount": "1000000000",
            "outputMint": "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
            "outAmount": "150123456",
            "otherAmountThreshold": "149372839",
            "swapMode": "ExactIn",
            "slippageBps": 50,
            "routePlan": [
                {"swapInfo": {"label": "Whirlpool"}, "percent": 60},
                {"swapInfo": {"label": "Raydium CPMM"}, "percent": 40},
            ],
        }
    )
    assert q.route == ("Whirlpool 60%", "Raydium CPMM 40%")
    assert (q.in_amount, q.out_amount, q.other_amount_threshold) == (
        10**9,
        150_123_456,
        149_372_839,
    )
    assert Decimal(q.out_amount) / 10**6 == Decimal("150.123456")
