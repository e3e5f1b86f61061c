"""Compute-unit price from config or from recent prioritization fees, and its cap."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import anyio
from tradewind.model import Order, OrderStatus, OrderType, Side


def market(cid: str) -> Order:
    return Order(
        client_order_id=cid,
        instrument="sol:MEME/USDC",
        side=Side.BUY,
        type=OrderType.MARKET,
        quantity=Decimal(3),
    )


def signed_meta() -> list[dict]:
    lines = Path("solana-transactions.jsonl").read_text().splitlines()
    return [json.loads(x)["meta"] for x in lines if json.loads(x)["type"] == "signed"]


def test_recent_prioritization_fees_set_the_price_within_the_cap(sol):
    async def go() -> None:
        first = await sol.venue(priority_fee_micro_lamports=40_000)
        try:
            assert (await first.submit_order(market("p1"))).status is OrderStatus.FILLED
        finally:
            await first.close()
        recent = await sol.venue(
            priority_fee="recent",
            priority_fee_micro_lamports=100,
            max_priority_fee_micro_lamports=25_000,
        )
        try:
            report = await recent.submit_order(market("p2"))
        finally:
            await recent.close()
        assert report.status is OrderStatus.FILLED
        meta = sol.rpc.landed[report.venue_order_id].meta
        # the median of the recent fees (40,000) capped at 25,000; the fee paid shows it
        assert [m["cu_price"] for m in signed_meta()] == [40_000, 25_000]
        limit = signed_meta()[1]["cu_limit"]
        # two signatures (the wallet and the market maker) at 5,000 lamports, plus the priority
        assert meta["fee"] == 2 * 5000 + -(-limit * 25_000 // 1_000_000)

    anyio.run(go)


def test_a_fixed_compute_unit_limit_is_the_transactions(sol):
    async def go() -> None:
        venue = await sol.venue(compute_unit_limit=90_000)
        try:
            report = await venue.submit_order(market("l1"))
        finally:
            await venue.close()
        assert report.status is OrderStatus.FILLED
        assert signed_meta()[0]["cu_limit"] == 90_000
        _path, body = sol.jupiter.requests[-1]
        assert body["computeUnitLimit"] == 90_000 and body["dynamicComputeUnitLimit"] is False

    anyio.run(go)
