"""The venue against a local Binance USD-M over TLS: real cryptofeed, real websocket, no internet.

The trades are real ``aggTrade`` messages (CTKUSDT, from cryptofeed's recorded session of
2021-07-22); the expected batches are computed here from the same JSON, independently of the
plugin: ts = ``T`` ms, price ``p``, size ``q``, side -1 when ``m`` (the buyer was the maker,
so the seller was the aggressor) else +1, id ``a``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import anyio
import attrs
import numpy as np
import pytest
from cryptofeed_stub import BinanceStub, ws_lines
from tradewind.clock import SimClock
from tradewind.errors import VenueError
from tradewind.model import ConnectionLost, DataQuality, Event, TickBatch

from tradewind_venue_cryptofeed import (
    ConnectionRestored,
    CryptofeedConfig,
    CryptofeedVenue,
    FeedGap,
    FundingRate,
    Liquidation,
)

TRADES = ws_lines("binance_futures_ctkusdt_aggtrade.jsonl")
EVENT_TS = 1_700_000_000_000_000_000


class RecordingSink:
    """Keeps every event, with how many trades the venue had received when it came."""

    def __init__(self) -> None:
        self.venue: CryptofeedVenue | None = None
        self.events: list[tuple[Event, int]] = []

    def on_report(self, report: object) -> None:
        raise AssertionError("a data venue never reports orders")

    def on_fill(self, fill: object) -> None:
        raise AssertionError("a data venue never reports fills")

    def on_event(self, event: Event) -> None:
        seen = self.venue.stats().get("trades_in", -1) if self.venue else -1
        self.events.append((event, seen))

    def of(self, kind: type) -> list[tuple[Any, int]]:
        return [(e, n) for e, n in self.events if type(e) is kind]


def expected(lines: list[str]) -> dict[str, np.ndarray]:
    data = [json.loads(line)["data"] for line in lines]
    return {
        "ts_ns": np.array([d["T"] * 1_000_000 for d in data], dtype=np.int64),
        "price": np.array([float(d["p"]) for d in data]),
        "size": np.array([float(d["q"]) for d in data]),
        "side": np.array([-1 if d["m"] else 1 for d in data], dtype=np.int8),
        "trade_id": np.array([d["a"] for d in data], dtype=np.int64),
    }


@pytest.fixture
def stub(tmp_path: Path):
    with BinanceStub(tmp_path) as server:
        yield server


def make_venue(stub: BinanceStub, **options: Any) -> tuple[CryptofeedVenue, RecordingSink]:
    settings: dict[str, Any] = {
        "exchange": "BINANCE_FUTURES",
        "symbols": ["CTKUSDT"],
        "batch_max": 4,
        "batch_ms": 20.0,
        "backoff_initial_s": 0.05,
        "backoff_max_s": 0.2,
        "stale_after_s": 0.0,
    }
    settings.update(options)
    venue = CryptofeedVenue(
        config=CryptofeedConfig(**settings),
        instance="bnf",
        feed_class=stub.feed_class(),
        clock=SimClock(EVENT_TS),
    )
    sink = RecordingSink()
    sink.venue = venue
    venue.set_sink(sink)
    return venue, sink


async def collect(venue: CryptofeedVenue, n: int, timeout: float = 20.0) -> list[TickBatch]:
    await venue.connect()
    insts = list(await venue.instruments())
    out: list[TickBatch] = []
    with anyio.fail_after(timeout):
        async for batch in venue.stream_trades(insts):
            out.append(batch)
            if sum(len(b) for b in out) >= n:
                break
    return out


def test_trades_dedup_gap_and_reconnect(stub: BinanceStub) -> None:
    # Connection 1: trades 0-9, trade 9 again, then 12-14 (10 and 11 never come), then the
    # exchange drops the connection. Connection 2: trades 15-19.
    first: list[tuple[str, ...]] = [("send", line) for line in TRADES[:10]]
    first += [("send", TRADES[9])]
    first += [("send", line) for line in TRADES[12:15]]
    first += [("close",)]
    stub.script(*first)
    stub.script(*[("send", line) for line in TRADES[15:20]])
    venue, sink = make_venue(stub)

    async def go() -> list[TickBatch]:
        try:
            return await collect(venue, 18)
        finally:
            await venue.close()

    batches = anyio.run(go)

    # Exactly the trades that arrived, once each, in order, in batches of at most 4.
    want = expected(TRADES[:10] + TRADES[12:20])
    got = TickBatch.concat(batches)
    assert got.instrument == "bnf:CTKUSDT"
    for column, values in want.items():
        np.testing.assert_array_equal(getattr(got, column), values, err_msg=column)
    assert got.ts_ns[0] == 1_626_992_741_421_000_000 and got.trade_id[0] == 16_599_292
    assert all(1 <= len(b) <= 4 for b in batches)
    assert all(bool(np.all(b.ts_ns[1:] >= b.ts_ns[:-1])) for b in batches)

    # The duplicate is reported, not silently dropped.
    dups = sink.of(DataQuality)
    assert [e.rejected for e, _ in dups] == [{"duplicate_id": 1}]
    assert dups[0][0].instrument == "bnf:CTKUSDT" and dups[0][0].ts_ns == EVENT_TS

    # The skipped ids are reported as a gap, with where it is.
    gaps = sink.of(FeedGap)
    assert len(gaps) == 1
    gap = gaps[0][0]
    assert gap.kind == "trade_id" and gap.rejected == {"missing_trade_ids": 2}
    assert (gap.first_missing_id, gap.last_missing_id) == (16_599_302, 16_599_303)
    assert gap.gap_start_ns == want["ts_ns"][9] and gap.gap_end_ns == want["ts_ns"][10]
    assert gap.venue == "bnf" and gap.instrument == "bnf:CTKUSDT"

    # The drop is reported after the 14 messages of connection 1, then the feed resumes.
    lost = sink.of(ConnectionLost)
    assert len(lost) == 1
    assert lost[0][1] == 14
    assert lost[0][0].venue == "bnf" and "closed by the exchange" in lost[0][0].reason
    restored = sink.of(ConnectionRestored)
    assert len(restored) == 1 and restored[0][1] == 14
    assert restored[0][0].down_ns >= 0 and restored[0][0].attempts == 1
    order = [type(e) for e, _ in sink.events]
    assert order.index(ConnectionLost) < order.index(ConnectionRestored)

    # Two connections, both subscribed to the aggTrade stream of the symbol; the symbol table
    # came from the exchange's REST endpoint.
    assert stub.ws_requests == ["streams=ctkusdt@aggTrade"] * 2
    assert stub.rest_requests == ["/fapi/v1/exchangeInfo"]


def test_batch_is_cut_at_batch_max_or_after_batch_ms(stub: BinanceStub) -> None:
    # 7 trades at once, then 1 more 800 ms later: batch_max = 4 cuts 4 + 3 (the 3 after
    # batch_ms), and the lone trade comes out alone once its own batch_ms expired.
    stub.script(*[("send", line) for line in TRADES[:7]], ("wait", 0.8), ("send", TRADES[7]))
    venue, _ = make_venue(stub, batch_max=4, batch_ms=200.0)

    async def go() -> list[TickBatch]:
        try:
            return await collect(venue, 8)
        finally:
            await venue.close()

    batches = anyio.run(go)
    assert [len(b) for b in batches] == [4, 3, 1]
    np.testing.assert_array_equal(
        TickBatch.concat(batches).trade_id, expected(TRADES[:8])["trade_id"]
    )


def test_stale_connection_is_reopened(stub: BinanceStub) -> None:
    stub.script(("send", TRADES[0]), ("send", TRADES[1]), ("silence",))
    stub.script(("send", TRADES[2]), ("send", TRADES[3]))
    venue, sink = make_venue(stub, stale_after_s=0.4)

    async def go() -> list[TickBatch]:
        try:
            return await collect(venue, 4)
        finally:
            await venue.close()

    batches = anyio.run(go)
    np.testing.assert_array_equal(
        TickBatch.concat(batches).trade_id, expected(TRADES[:4])["trade_id"]
    )
    lost = sink.of(ConnectionLost)
    assert len(lost) == 1 and "stale: no message for 0.4 s" in lost[0][0].reason
    assert lost[0][1] == 2
    assert not sink.of(FeedGap)  # ids 2 and 3 follow 1: nothing was lost
    assert stub.connections == 2


def test_funding_and_liquidations(stub: BinanceStub) -> None:
    marks = ws_lines("binance_futures_btcusdt_markprice.jsonl")
    (force,) = ws_lines("binance_futures_force_order.jsonl")
    stub.script(*[("send", m) for m in marks], ("send", force))
    venue, sink = make_venue(
        stub, symbols=["BTC-USDT-PERP"], channels=["trades", "funding", "liquidations"]
    )
    assert venue.capabilities == {"data", "trades", "subscribe", "funding", "liquidations"}

    async def go() -> tuple[list[FundingRate], list[Liquidation]]:
        funding = venue.subscribe("funding")
        liquidations = venue.subscribe("liquidations")
        await venue.connect()
        insts = list(await venue.instruments())

        async def pump() -> None:
            async for _ in venue.stream_trades(insts):
                pass

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(pump)
                with anyio.fail_after(20):
                    rates = [await funding.receive() for _ in marks]
                    liqs = [await liquidations.receive()]
                tg.cancel_scope.cancel()
        finally:
            await venue.close()
        return rates, liqs

    rates, liqs = anyio.run(go)
    (query,) = stub.ws_requests
    assert sorted(query.removeprefix("streams=").split("/")) == [
        "btcusdt@aggTrade",
        "btcusdt@forceOrder",
        "btcusdt@markPrice",
    ]
    first = rates[0]
    assert math.isnan(first.predicted_rate)  # Binance's "P" is a price, not a rate
    assert attrs.evolve(first, predicted_rate=0.0) == FundingRate(
        instrument="bnf:BTC-USDT-PERP",
        ts_ns=1_680_652_800_010_000_000,
        rate=0.0000276,
        mark_price=28155.1,
        predicted_rate=0.0,
        next_funding_ts_ns=1_680_652_800_000_000_000,
    )
    assert rates[1].next_funding_ts_ns == 1_680_681_600_000_000_000
    assert venue.funding_rate("bnf:BTC-USDT-PERP") is rates[-1]  # the latest value stays
    assert liqs == [
        Liquidation(
            instrument="bnf:BTC-USDT-PERP",
            ts_ns=1_568_014_460_893_000_000,
            side=-1,
            price=9910.0,
            size=0.014,
            status="filled",
            liquidation_id=None,
        )
    ]
    assert not sink.of(ConnectionLost)


def test_retries_exhausted_fail_the_stream(stub: BinanceStub, tmp_path: Path) -> None:
    # A port nothing listens on: every connect is refused.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    base = stub.feed_class()
    from cryptofeed.connection import WebsocketEndpoint

    class Unreachable(base):  # type: ignore[misc, valid-type]
        websocket_endpoints = [
            WebsocketEndpoint(
                f"wss://127.0.0.1:{dead_port}", options={"ssl": stub.client_ssl_context()}
            )
        ]

    venue = CryptofeedVenue(
        config=CryptofeedConfig(
            exchange="BINANCE_FUTURES",
            symbols=["CTKUSDT"],
            max_retries=2,
            backoff_initial_s=0.01,
            backoff_max_s=0.02,
        ),
        instance="bnf",
        feed_class=Unreachable,
        clock=SimClock(EVENT_TS),
    )
    sink = RecordingSink()
    venue.set_sink(sink)

    async def go() -> None:
        try:
            await collect(venue, 1, timeout=20)
        finally:
            await venue.close()

    with pytest.raises(VenueError, match="no connection after 2 retries"):
        anyio.run(go)
    (lost,) = sink.of(ConnectionLost)  # reported once, not once per attempt
    assert "ConnectionRefusedError" in lost[0].reason or "Connect" in lost[0].reason
