"""The instrument set changed while streaming (capability ``"subscribe"``), against the local
Binance USD-M over TLS: each symbol has its own cryptofeed feed (its own combined-stream
connection), so subscribing opens the symbol's connection and its trades arrive, and
unsubscribing closes it and none of its trades is delivered any more.

The CTKUSDT trades are the recorded ``aggTrade`` messages; BTCUSDT's are the same recorded
messages with the stream and symbol renamed (no BTCUSDT trade capture is staged)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from cryptofeed_stub import BinanceStub, ws_lines
from tradewind.clock import SimClock
from tradewind.model import TickBatch
from tradewind.protocols import SubscribeCapability

from tradewind_venue_cryptofeed import CryptofeedConfig, CryptofeedVenue, FeedGap

CTK_LINES = ws_lines("binance_futures_ctkusdt_aggtrade.jsonl")
CTK, BTC = "bnf:CTKUSDT", "bnf:BTCUSDT"
CTK_QUERY, BTC_QUERY = "streams=ctkusdt@aggTrade", "streams=btcusdt@aggTrade"


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[BinanceStub]:
    with BinanceStub(tmp_path) as server:
        yield server


def btc_lines(lines: list[str], price_shift: float) -> list[str]:
    out = []
    for line in lines:
        msg = json.loads(line)
        msg["stream"] = "btcusdt@aggTrade"
        msg["data"]["s"] = "BTCUSDT"
        msg["data"]["p"] = f"{float(msg['data']['p']) + price_shift:.5f}"
        out.append(json.dumps(msg))
    return out


def test_subscribe_opens_the_symbols_feed_and_unsubscribe_closes_it(stub: BinanceStub) -> None:
    # CTK streams from the start: five trades, then five more after a pause.
    stub.script_for(
        CTK_QUERY,
        *[("send", line) for line in CTK_LINES[:5]],
        ("wait", 2.0),
        *[("send", line) for line in CTK_LINES[5:10]],
    )
    # BTC's first connection (once subscribed) sends three trades and stays open; its second
    # (subscribed again later) sends two others.
    first_btc = btc_lines(CTK_LINES[:3], 40_000)
    second_btc = btc_lines(CTK_LINES[10:12], 41_000)
    stub.script_for(BTC_QUERY, *[("send", line) for line in first_btc])
    stub.script_for(BTC_QUERY, *[("send", line) for line in second_btc])
    venue = CryptofeedVenue(
        config=CryptofeedConfig(
            exchange="BINANCE_FUTURES",
            symbols=["CTKUSDT", "BTCUSDT"],
            batch_max=100,
            batch_ms=10.0,
            backoff_initial_s=0.05,
            backoff_max_s=0.2,
            stale_after_s=0.0,
        ),
        instance="bnf",
        feed_class=stub.feed_class(),
        clock=SimClock(1_700_000_000_000_000_000),
    )
    events: list[Any] = []

    class Sink:
        def on_event(self, event: Any) -> None:
            events.append(event)

    venue.set_sink(Sink())  # type: ignore[arg-type]
    got: list[TickBatch] = []
    seen: dict[str, Any] = {}

    def of(key: str) -> list[TickBatch]:
        return [b for b in got if b.instrument == key]

    def n(key: str) -> int:
        return sum(len(b) for b in of(key))

    async def wait_for(what: str, fn: Any, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not fn():
            if time.monotonic() > deadline:
                raise AssertionError(f"waited {timeout:g} s for {what}")
            await anyio.sleep(0.02)

    async def go() -> None:
        await venue.connect()
        insts = {i.key: i for i in await venue.instruments()}
        venue.unsubscribe([insts[BTC]])  # the watchlist holds CTK only when the stream starts

        async def consume() -> None:
            async for batch in venue.stream_trades(list(insts.values())):
                got.append(batch)

        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await wait_for("CTK's first trades", lambda: n(CTK) >= 5)
            seen["queries_before"] = list(stub.ws_requests)
            venue.subscribe([insts[BTC]])  # a watchlist entry added
            await wait_for("BTC's trades", lambda: n(BTC) >= 3)
            seen["open_while_both"] = sorted(stub.open_queries)
            venue.unsubscribe([insts[BTC]])  # the entry removed or expired
            await wait_for("BTC's connection closed", lambda: BTC_QUERY in stub.closed_queries)
            seen["open_after"] = sorted(stub.open_queries)
            seen["btc_after_unsubscribe"] = n(BTC)
            await wait_for("CTK's later trades", lambda: n(CTK) >= 10)  # CTK kept streaming
            seen["btc_still"] = n(BTC)
            venue.subscribe([insts[BTC]])  # added again
            await wait_for("BTC's trades again", lambda: n(BTC) >= 5)
            tg.cancel_scope.cancel()
        await venue.close()

    anyio.run(go)
    assert "subscribe" in venue.capabilities and isinstance(venue, SubscribeCapability)
    # Only CTK's connection opened at the start; BTC's opened when subscribed, closed when not.
    assert seen["queries_before"] == [CTK_QUERY]
    assert seen["open_while_both"] == sorted([CTK_QUERY, BTC_QUERY])
    assert seen["open_after"] == [CTK_QUERY]
    assert stub.ws_requests.count(BTC_QUERY) == 2
    # BTC's trades: the first connection's three, nothing while unsubscribed, then the
    # second connection's two.
    assert seen["btc_after_unsubscribe"] == seen["btc_still"] == 3
    btc = TickBatch.concat(of(BTC))
    want = [float(json.loads(x)["data"]["p"]) for x in first_btc + second_btc]
    assert btc.price.tolist() == want
    ctk = TickBatch.concat(of(CTK))
    assert ctk.trade_id.tolist() == [json.loads(x)["data"]["a"] for x in CTK_LINES[:10]]
    # The ids BTC skipped while unsubscribed are not reported as a feed gap.
    assert not [e for e in events if isinstance(e, FeedGap) and e.instrument == BTC]
