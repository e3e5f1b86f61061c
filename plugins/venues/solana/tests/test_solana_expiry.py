"""Blockhash expiry: re-sent once with a fresh blockhash only when the first signature is known
never to have landed; a transaction that landed is never re-sent; one order books once."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import anyio
from tradewind.model import Order, OrderStatus, OrderType, Side
from tradewind.testing.scenarios import ScenarioSink


def market(cid: str, qty: str = "10") -> Order:
    return Order(
        client_order_id=cid,
        instrument="sol:MEME/USDC",
        side=Side.BUY,
        type=OrderType.MARKET,
        quantity=Decimal(qty),
    )


async def _expire_when_sent(sol, count: int) -> None:
    """Produce blocks past the dropped transaction's validity once it was sent."""
    while len(sol.rpc.sent) < count:
        await anyio.sleep(0.005)
    sol.rpc.advance()


def test_a_dropped_transaction_is_resent_once_with_a_fresh_blockhash_and_booked_once(sol):
    sol.rpc.drop_next()

    async def go() -> None:
        venue = await sol.venue()
        sink = ScenarioSink()
        venue.set_sink(sink)
        try:
            before = sol.wallet_units()
            async with anyio.create_task_group() as tg:
                tg.start_soon(_expire_when_sent, sol, 1)
                report = await venue.submit_order(market("exp-1"))
            after = sol.wallet_units()
        finally:
            await venue.close()
        assert report.status is OrderStatus.FILLED, report.reason
        first, second = sol.rpc.sent
        assert sol.rpc.dropped == [first] and list(sol.rpc.landed) == [second]
        assert report.venue_order_id == second
        # A fresh blockhash, not the same transaction again.
        entries = [
            json.loads(x) for x in Path("solana-transactions.jsonl").read_text().splitlines()
        ]
        signed = [e for e in entries if e["type"] == "signed"]
        assert [e["signature"] for e in signed] == [first, second]
        assert signed[0]["blockhash"] != signed[1]["blockhash"]
        assert [e["outcome"] for e in entries if e["type"] == "outcome"] == ["expired", "filled"]
        # Booked once: one fill, and the wallet moved by one swap.
        assert [f.client_order_id for f in sink.fills] == ["exp-1"]
        assert after["MEME"] - before["MEME"] == 10 * 10**9

    anyio.run(go)


def test_a_transaction_that_landed_is_never_resent_even_when_its_send_answer_was_lost(sol):
    sol.rpc.lose_next_response()

    async def go() -> None:
        venue = await sol.venue()
        sink = ScenarioSink()
        venue.set_sink(sink)
        try:
            report = await venue.submit_order(market("lost-1"))
            sol.rpc.advance()  # its blockhash expires afterwards: still nothing is re-sent
            again = await venue.submit_order(market("lost-1"))
        finally:
            await venue.close()
        assert report.status is OrderStatus.FILLED, report.reason
        assert again == report
        assert len(sol.rpc.sent) == 1 and list(sol.rpc.landed) == sol.rpc.sent
        assert len(sink.fills) == 1

    anyio.run(go)


def test_after_a_restart_a_journaled_order_is_found_by_signature_not_sent_again(sol):
    async def go() -> None:
        first = await sol.venue()
        try:
            report = await first.submit_order(market("rs-1"))
        finally:
            await first.close()
        second = await sol.venue()
        sink = ScenarioSink()
        second.set_sink(sink)
        try:
            found = await second.fetch_order("sol:MEME/USDC", "rs-1")
            fills = await second.fetch_fills("sol:MEME/USDC", "rs-1")
            resent = await second.submit_order(market("rs-1"))
        finally:
            await second.close()
        assert report.status is OrderStatus.FILLED
        assert found is not None and found.status is OrderStatus.FILLED
        assert found.venue_order_id == report.venue_order_id
        assert [f.quantity for f in fills] == [Decimal(10)]
        assert resent.status is OrderStatus.FILLED and len(sol.rpc.sent) == 1

    anyio.run(go)


def test_a_transaction_that_expired_twice_is_rejected_after_one_resend(sol):
    sol.rpc.drop_next(2)

    async def go() -> None:
        venue = await sol.venue()
        try:
            async with anyio.create_task_group() as tg:

                async def expire_both() -> None:
                    await _expire_when_sent(sol, 1)
                    await _expire_when_sent(sol, 2)

                tg.start_soon(expire_both)
                report = await venue.submit_order(market("exp-2"))
        finally:
            await venue.close()
        assert report.status is OrderStatus.REJECTED
        assert "expired twice" in report.reason
        assert len(sol.rpc.sent) == 2 and not sol.rpc.landed

    anyio.run(go)
