"""Public trades over ccxt.pro ``watch_trades`` from the local Binance USDⓈ-M server's market
websocket, and the instrument set changed while streaming (capability ``"subscribe"``): a
subscribed symbol's trades arrive, an unsubscribed one's stop and the exchange is told."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from ccxt_testkit import (
    API_KEY,
    KEY_ENV,
    SECRET,
    SECRET_ENV,
    RecordingSink,
    set_credentials,
    wait_for,
)
from ccxt_testserver_binance import BinanceFuturesServer
from tradewind.errors import VenueError
from tradewind.model import ConnectionLost, TickBatch
from tradewind.protocols import SubscribeCapability
from tradewind.secrets import Secret
from tradewind_venue_ccxt import CcxtVenue, CcxtVenueConfig

BTC, ETH = "bn:BTCUSDT", "bn:ETHUSDT"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[BinanceFuturesServer]:
    set_credentials(monkeypatch)
    srv = BinanceFuturesServer(API_KEY, SECRET).start()
    yield srv
    srv.stop()
    assert not srv.unknown, f"ccxt called routes the server lacks: {srv.unknown}"


def venue_for(server: BinanceFuturesServer, **overrides: Any) -> CcxtVenue:
    values: dict[str, Any] = {
        "exchange": "binanceusdm",
        "market_type": "swap",
        "symbols": ["BTCUSDT", "ETHUSDT"],
        "api_key": Secret(KEY_ENV),
        "secret": Secret(SECRET_ENV),
        "api_host": server.url,
        "order_updates": "auto",
        "timeout_ms": 3000,
        "poll_interval_s": 0.2,
    }
    values.update(overrides)
    return CcxtVenue(CcxtVenueConfig(**values), instance="bn")


def test_watchlist_subscribe_and_unsubscribe_change_the_trades_that_arrive(
    server: BinanceFuturesServer,
) -> None:
    got: list[TickBatch] = []

    def of(key: str) -> list[TickBatch]:
        return [b for b in got if b.instrument == key]

    async def go() -> dict[str, Any]:
        venue = venue_for(server)
        await venue.connect()
        seen: dict[str, Any] = {"caps": venue.capabilities}
        instruments = {i.key: i for i in await venue.instruments()}
        # The watchlist holds BTC only when the stream starts: ETH is unsubscribed first.
        venue.unsubscribe([instruments[ETH]])

        async def consume() -> None:
            async for batch in venue.stream_trades(list(instruments.values())):
                got.append(batch)

        task = asyncio.create_task(consume())
        try:
            await wait_for(lambda: server.subscribed() == {"btcusdt@trade"})
            assert server.push_trade("BTCUSDT", "43000.5", "0.010", buyer_maker=True) == 1
            await wait_for(lambda: of(BTC))
            # ETH is not subscribed at the exchange: no one receives its trade.
            seen["eth_before"] = server.push_trade("ETHUSDT", "2300", "1", buyer_maker=False)

            venue.subscribe([instruments[ETH]])  # a watchlist entry added
            await wait_for(lambda: "ethusdt@trade" in server.subscribed())
            assert server.push_trade("ETHUSDT", "2301.25", "0.5", buyer_maker=False) == 1
            await wait_for(lambda: of(ETH))

            venue.unsubscribe([instruments[ETH]])  # the entry removed or expired
            await wait_for(lambda: "ethusdt@trade" not in server.subscribed())
            seen["eth_after"] = server.push_trade("ETHUSDT", "2302", "2", buyer_maker=True)
            n_btc = len(of(BTC))
            assert server.push_trade("BTCUSDT", "43001", "0.020", buyer_maker=False) == 1
            await wait_for(lambda: len(of(BTC)) > n_btc)  # BTC still streams
            seen["watching"] = venue._trade_streams.watching  # type: ignore[union-attr]
            venue.subscribe([instruments[ETH]])  # added again: streams again
            await wait_for(lambda: "ethusdt@trade" in server.subscribed())
            n_eth = len(of(ETH))
            assert server.push_trade("ETHUSDT", "2303", "0.1", buyer_maker=True) == 1
            await wait_for(lambda: len(of(ETH)) > n_eth)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await venue.close()
        return seen

    seen = asyncio.run(go())
    assert {"data", "subscribe"} <= seen["caps"]
    assert isinstance(CcxtVenue, type) and issubclass(CcxtVenue, SubscribeCapability)
    assert seen["eth_before"] == 0 and seen["eth_after"] == 0
    assert seen["watching"] == {BTC}
    btc = of(BTC)[0]
    assert btc.price.tolist() == [43000.5] and btc.size.tolist() == [0.01]
    assert btc.side.tolist() == [-1]  # the buyer was the maker: a taker sell
    eth = of(ETH)
    assert [b.price.tolist() for b in eth] == [[2301.25], [2303.0]]  # nothing in between
    assert eth[0].side.tolist() == [1] and eth[0].size.tolist() == [0.5]
    assert int(eth[0].ts_ns[0]) % 1_000_000 == 0 and int(eth[0].ts_ns[0]) > 1_600_000_000 * 10**9
    unsubscribes = [p for m, p in server.market_requests if m == "UNSUBSCRIBE"]
    assert unsubscribes == [["ethusdt@trade"]]


def test_without_ccxt_pro_there_is_no_stream_and_no_subscribe(
    server: BinanceFuturesServer,
) -> None:
    async def go() -> frozenset[str]:
        venue = venue_for(server, order_updates="poll")
        await venue.connect()
        try:
            with pytest.raises(VenueError, match=r"order_updates.*\$\.venues\.bn\.order_updates"):
                venue.stream_trades(list(await venue.instruments()))
            return venue.capabilities
        finally:
            await venue.close()

    assert not {"data", "subscribe"} & asyncio.run(go())


def test_sizes_are_in_base_units() -> None:
    from tradewind_venue_ccxt.market_data import trades_batch

    batch = trades_batch(
        "x:BTC-USDT-SWAP",
        [
            {
                "timestamp": 1_700_000_000_000,
                "price": 43000.0,
                "amount": 3,
                "side": "buy",
                "id": "77",
            }
        ],
        Decimal("0.01"),
    )
    assert batch.size.tolist() == [0.03] and batch.trade_id.tolist() == [77]
    assert batch.ts_ns.tolist() == [1_700_000_000_000_000_000]


def test_a_dropped_market_stream_is_reported_once_and_trades_resume(
    server: BinanceFuturesServer,
) -> None:
    got: list[TickBatch] = []
    sink = RecordingSink()

    async def go() -> int:
        venue = venue_for(server, symbols=["BTCUSDT"])
        await venue.connect()
        venue.set_sink(sink)

        async def consume() -> None:
            async for batch in venue.stream_trades(list(await venue.instruments())):
                got.append(batch)

        task = asyncio.create_task(consume())
        try:
            await wait_for(lambda: server.subscribed() == {"btcusdt@trade"})
            server.push_trade("BTCUSDT", "43000", "0.01", buyer_maker=False)
            await wait_for(lambda: len(got) == 1)
            dropped = server.drop_market_streams()  # the exchange drops the connection
            # ccxt.pro reconnects and subscribes again on the stream's retry.
            await wait_for(lambda: server.subscribed() == {"btcusdt@trade"}, timeout=10)
            server.push_trade("BTCUSDT", "43002", "0.02", buyer_maker=True)
            await wait_for(lambda: len(got) == 2, timeout=10)
            return dropped
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await venue.close()

    assert asyncio.run(go()) == 1
    assert [b.price.tolist() for b in got] == [[43000.0], [43002.0]]
    lost = [e for e in sink.items if isinstance(e, ConnectionLost)]
    assert len(lost) == 1 and lost[0].venue == "bn"
    assert "watch_trades(BTC/USDT:USDT)" in lost[0].reason
