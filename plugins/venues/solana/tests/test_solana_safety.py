"""A swap transaction is checked before signing: refused when it pays the bought tokens to
another owner, calls an unexpected program, or takes more than the order allows."""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest
from tradewind.model import Order, OrderStatus, OrderType, Side


def market(cid: str) -> Order:
    return Order(
        client_order_id=cid,
        instrument="sol:MEME/USDC",
        side=Side.BUY,
        type=OrderType.MARKET,
        quantity=Decimal("100"),
    )


@pytest.mark.parametrize(
    ("tamper", "why"),
    [
        ("recipient", "the output goes elsewhere"),
        ("program", "MemoSq4gqABAXKb96qnH8TYDcAMbqxE2v4uD9RL3PZ4 is not one the swap may call"),
        ("overpay", "the order allows at most"),
    ],
)
def test_an_unsafe_swap_is_refused_before_signing(sol, tamper, why):
    sol.jupiter.tamper = tamper

    async def go() -> None:
        venue = await sol.venue()
        try:
            before = sol.wallet_units()
            report = await venue.submit_order(market(f"bad-{tamper}"))
            after = sol.wallet_units()
        finally:
            await venue.close()
        assert report.status is OrderStatus.REJECTED
        assert "refused before signing" in report.reason and why in report.reason
        assert sol.rpc.sent == [] and before == after

    anyio.run(go)


def test_the_same_order_goes_through_when_the_api_is_honest(sol):
    async def go() -> None:
        venue = await sol.venue()
        try:
            report = await venue.submit_order(market("good"))
        finally:
            await venue.close()
        assert report.status is OrderStatus.FILLED, report.reason

    anyio.run(go)
