"""Market orders through Jupiter on LiteSVM: quote, check, sign, journal, send, confirm, fill.

Every figure is checked against the VM itself: the wallet's token and lamport balances before
and after, and the landed transaction's metadata.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import anyio
from tradewind.model import Order, OrderStatus, OrderType, Side
from tradewind.testing.scenarios import ScenarioSink

D = Decimal


def market(cid: str, side: Side, qty: str) -> Order:
    return Order(
        client_order_id=cid,
        instrument="sol:MEME/USDC",
        side=side,
        type=OrderType.MARKET,
        quantity=D(qty),
    )


def test_buy_then_sell_books_exactly_what_the_chain_moved(sol):
    async def go() -> None:
        venue = await sol.venue()
        sink = ScenarioSink()
        venue.set_sink(sink)
        try:
            before = sol.wallet_units()
            buy = await venue.submit_order(market("b1", Side.BUY, "1000"))
            assert buy.status is OrderStatus.FILLED, buy.reason
            mid = sol.wallet_units()
            sell = await venue.submit_order(market("s1", Side.SELL, "1000"))
            assert sell.status is OrderStatus.FILLED, sell.reason
            after = sol.wallet_units()
            balances = await venue.fetch_balances()
        finally:
            await venue.close()
        fb, fs = sink.fills
        # The buy: exactly 1000 MEME arrived (ExactOut), paid in USDC at the maker's ask.
        assert fb.quantity == D(1000) and mid["MEME"] - before["MEME"] == 1000 * 10**9
        assert int((fb.quantity * fb.price).scaleb(6)) == before["USDC"] - mid["USDC"]
        assert before["USDC"] - mid["USDC"] == 20_020_000  # 1000 x 0.02 x 1.001
        # Its SOL cost: fee, priority fee and the rent of the new MEME account, to the lamport.
        assert (fb.fee_currency, fb.fee_asset) == ("SOL", "other")
        assert fb.fee == D(before["SOL"] - mid["SOL"]) / 10**9
        rent_2022_ata = sol.rpc.svm.minimum_balance_for_rent_exemption(170)
        buy_meta = sol.rpc.landed[fb.trade_id].meta
        assert before["SOL"] - mid["SOL"] == buy_meta["fee"] + rent_2022_ata
        assert buy_meta["fee"] > 5000  # a priority fee on top of the signature fee
        # The sell: exactly 1000 MEME left, USDC at the bid; the fee is the network fee only.
        assert fs.quantity == D(1000) and mid["MEME"] - after["MEME"] == 1000 * 10**9
        assert int((fs.quantity * fs.price).scaleb(6)) == after["USDC"] - mid["USDC"]
        assert after["USDC"] - mid["USDC"] == 19_980_000
        assert fs.fee == D(mid["SOL"] - after["SOL"]) / 10**9
        assert mid["SOL"] - after["SOL"] == sol.rpc.landed[fs.trade_id].meta["fee"]
        # The account the venue reports is the chain's, exact.
        assert balances == {
            "SOL": D(after["SOL"]) / 10**9,
            "USDC": D(after["USDC"]).scaleb(-6),
            "MEME": D(0),
        }

    anyio.run(go)


def test_signatures_are_journaled_before_sending_with_the_route(sol):
    async def go() -> None:
        venue = await sol.venue()
        try:
            sent_before: list[str] = []
            original = venue._send

            async def spy(raw: bytes) -> str:
                lines = Path("solana-transactions.jsonl").read_text().splitlines()
                sent_before.extend(
                    json.loads(x)["signature"] for x in lines if json.loads(x)["type"] == "signed"
                )
                return await original(raw)

            venue._send = spy
            report = await venue.submit_order(market("j1", Side.BUY, "5"))
        finally:
            await venue.close()
        assert report.status is OrderStatus.FILLED
        assert sent_before == [report.venue_order_id] == sol.rpc.sent
        entries = [
            json.loads(x) for x in Path("solana-transactions.jsonl").read_text().splitlines()
        ]
        signed, outcome = entries
        assert signed["meta"]["route"] == ["RFQ 100%"]
        assert signed["meta"]["swap_mode"] == "ExactOut"
        assert signed["meta"]["cu_price"] == 10_000 and signed["meta"]["cu_limit"] > 0
        assert outcome["outcome"] == "filled"
        assert outcome["meta"]["fee_lamports"] == sol.rpc.landed[report.venue_order_id].meta["fee"]
        assert "keypair" not in json.dumps(entries).lower()

    anyio.run(go)


def test_a_resubmitted_client_order_id_sends_nothing(sol):
    async def go() -> None:
        venue = await sol.venue()
        try:
            first = await venue.submit_order(market("dup", Side.BUY, "5"))
            again = await venue.submit_order(market("dup", Side.BUY, "5"))
        finally:
            await venue.close()
        assert first == again and len(sol.rpc.sent) == 1

    anyio.run(go)


def test_the_same_order_twice_lands_twice_with_different_blockhashes(sol):
    async def go() -> None:
        venue = await sol.venue()
        try:
            first = await venue.submit_order(market("t1", Side.BUY, "7"))
            second = await venue.submit_order(market("t2", Side.BUY, "7"))
        finally:
            await venue.close()
        assert first.status is second.status is OrderStatus.FILLED
        assert first.venue_order_id != second.venue_order_id
        assert list(sol.rpc.landed) == [first.venue_order_id, second.venue_order_id]
        assert sol.wallet_units()["MEME"] == 14 * 10**9

    anyio.run(go)
