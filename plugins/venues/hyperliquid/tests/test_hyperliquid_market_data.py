"""Market data from recorded payloads: trades as exact TickBatches, books, mids, funding."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import anyio
import numpy as np
from hyperliquid_testkit import Sink, venue_config
from tradewind.model import ConnectionLost
from tradewind_venue_hyperliquid import FundingRate, HyperliquidVenue
from tradewind_venue_hyperliquid.schemas import trades_to_batch

WS = Path(__file__).parent / "resources" / "ws"
T0 = 1_737_918_794_873  # ms, the first recorded trade


def recorded_trades() -> list[list[dict]]:
    """The recorded ``trades`` messages' rows, one list per message."""
    out = []
    for line in (WS / "btc_trades_20250126.txt").read_text().splitlines():
        out.append(json.loads(line.split(" ", 1)[1])["data"])
    return out


async def collect(venue, symbol: str, n: int) -> list:
    inst = [i for i in await venue.instruments() if i.symbol == symbol]
    out = []
    async for batch in venue.stream_trades(inst):
        out.append(batch)
        if len(out) == n:
            break
    return out


def test_trades_become_exact_tick_batches(hl_server):
    messages = recorded_trades()

    async def go():
        venue = HyperliquidVenue(venue_config(hl_server, user_stream=False), "hl")
        await venue.connect()
        try:
            return await collect(venue, "BTC", len(messages))
        finally:
            await venue.close()

    batches = anyio.run(go)
    assert [len(b) for b in batches] == [len(m) for m in messages] == [30, 1, 1, 1, 1, 1, 7, 21, 1]
    for batch, rows in zip(batches, messages, strict=True):
        assert batch.instrument == "hl:BTC"
        np.testing.assert_array_equal(batch.ts_ns, [r["time"] * 1_000_000 for r in rows])
        np.testing.assert_array_equal(batch.price, [float(r["px"]) for r in rows])
        np.testing.assert_array_equal(batch.size, [float(r["sz"]) for r in rows])
        np.testing.assert_array_equal(batch.side, [1 if r["side"] == "B" else -1 for r in rows])
        np.testing.assert_array_equal(batch.trade_id, [r["tid"] for r in rows])
    first = batches[0]
    # The first recorded trade, written out: a buyer lifted 0.00219 BTC at 105056.
    assert first.ts_ns[0] == T0 * 1_000_000
    assert (first.price[0], first.size[0], first.side[0]) == (105056.0, 0.00219, 1)
    assert first.trade_id[0] == 121451470284048
    assert first.side[2] == -1  # "A": a seller hit the bid at 105055
    # The whole recording: 64 trades in 9 messages.
    every = np.concatenate([b.size * b.side for b in batches])
    assert len(every) == 64


def test_a_dropped_feed_reconnects_without_duplicates_and_reports_it(hl_server):
    hl_server.drop_ws_after_messages = 3  # then the server hangs up; it replays from the start
    sink = Sink()

    async def go():
        venue = HyperliquidVenue(venue_config(hl_server, user_stream=False), "hl")
        venue.set_sink(sink)
        await venue.connect()
        try:
            return await collect(venue, "BTC", 9)
        finally:
            await venue.close()

    batches = anyio.run(go)
    ids = np.concatenate([b.trade_id for b in batches])
    assert len(ids) == 64 and len(set(ids.tolist())) == 64
    ts = np.concatenate([b.ts_ns for b in batches])
    assert (ts[1:] >= ts[:-1]).all()
    lost = [e for e in sink.events if isinstance(e, ConnectionLost)]
    assert len(lost) == 1 and lost[0].venue == "hl" and "trades websocket" in lost[0].reason


def test_a_paper_run_streams_for_the_simulated_venues_instruments(hl_server):
    """Data from Hyperliquid, execution simulated: batches carry the caller's keys."""
    from tradewind.model import Instrument

    paper = Instrument(venue="sim", symbol="BTC", lot_size=Decimal("0.001"))

    async def go():
        venue = HyperliquidVenue(
            venue_config(hl_server, symbols=None, private_key=None), "hl", [paper]
        )
        await venue.connect()
        try:
            assert [i.key for i in await venue.instruments()] == ["hl:BTC"]
            async for batch in venue.stream_trades([paper]):
                return batch
        finally:
            await venue.close()

    batch = anyio.run(go)
    assert batch.instrument == "sim:BTC" and len(batch) == 30


def test_trades_out_of_order_in_a_message_are_sorted():
    rows = recorded_trades()[6]  # seven trades at one millisecond
    shuffled = [dict(rows[1], time=rows[1]["time"] + 5), *rows[2:], rows[0]]
    batch = trades_to_batch("hl:BTC", shuffled)
    assert (batch.ts_ns[1:] >= batch.ts_ns[:-1]).all()
    assert batch.trade_id[-1] == rows[1]["tid"]


def test_book_mids_and_funding_from_recorded_payloads(hl_server):
    async def go():
        venue = HyperliquidVenue(venue_config(hl_server, user_stream=False), "hl")
        await venue.connect()
        try:
            book = await venue.book("hl:DYDX")
            top = await venue.book_top("hl:BTC")
            mids = await venue.mids()
            by_coin = await venue.mids_by_coin()
            funding = await venue.funding_history(
                "hl:BTC", 1_681_923_833_000 * 10**6, 1_684_811_870_000 * 10**6
            )
            streamed = []
            async for b in venue.stream_books([i for i in await venue.instruments()]):
                streamed.append(b)
                if len(streamed) == 2:
                    break
            return book, top, mids, by_coin, funding, streamed
        finally:
            await venue.close()

    book, top, mids, by_coin, funding, streamed = anyio.run(go)
    # DYDX l2Book recorded 2023-07-17: 20 levels a side.
    assert len(book.bids) == len(book.asks) == 20
    assert book.bids[0] == (Decimal("2.111"), Decimal("134.4"))
    assert book.asks[0] == (Decimal("2.1124"), Decimal("352.3"))
    assert book.ts_ns == 1_689_630_203_930 * 10**6
    # BTC book recorded 2025-01-26.
    assert (top.bid_price, top.bid_size, top.ask_price) == (105055.0, 3.03622, 105056.0)
    assert mids == {"hl:BTC": Decimal("105055.5"), "hl:DYDX": Decimal("2.1117")}
    assert by_coin["ETH"] == Decimal("1903.95")  # the recorded allMids
    assert len(funding) == 34
    assert funding[0] == FundingRate(
        instrument="hl:BTC",
        ts_ns=1_683_849_600_048 * 10**6,
        rate=Decimal("-0.00061334"),
        premium=Decimal("-0.00091334"),
    )
    assert {b.instrument for b in streamed} == {"hl:BTC", "hl:DYDX"}
