"""The ccxt venue against a local Binance USDⓈ-M server that verifies every signature."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from ccxt_testkit import (
    API_KEY,
    KEY_ENV,
    SECRET,
    SECRET_ENV,
    WRONG_ENV,
    RecordingSink,
    set_credentials,
    wait_for,
)
from ccxt_testserver_binance import BinanceFuturesServer
from tradewind.errors import OrderRejectedError, VenueError
from tradewind.model import (
    Fill,
    Instrument,
    InstrumentKind,
    Order,
    OrderReport,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
)
from tradewind.secrets import Secret
from tradewind.testing import assert_plugin_installed
from tradewind.testing.conformance import VenueConformance
from tradewind_venue_ccxt import CcxtVenue, CcxtVenueConfig, FundingRate

pytest_plugins = "tradewind.testing"


def make_config(server: BinanceFuturesServer, **overrides: Any) -> CcxtVenueConfig:
    """A binanceusdm config pointed at ``server``."""
    values: dict[str, Any] = {
        "exchange": "binanceusdm",
        "market_type": "swap",
        "symbols": ["BTCUSDT"],
        "api_key": Secret(KEY_ENV),
        "secret": Secret(SECRET_ENV),
        "api_host": server.url,
        "order_updates": "off",
        "timeout_ms": 3000,
        "lookup_delay_s": 0.05,
    }
    values.update(overrides)
    return CcxtVenueConfig(**values)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[BinanceFuturesServer]:
    """A fresh Binance USDⓈ-M server on 127.0.0.1, port 0, and the test credentials."""
    set_credentials(monkeypatch)
    srv = BinanceFuturesServer(API_KEY, SECRET).start()
    yield srv
    srv.stop()
    assert not srv.unknown, f"ccxt called routes the server lacks: {srv.unknown}"


def limit_buy(cid: str, qty: str = "0.001", price: str = "20000") -> Order:
    """A resting GTC limit buy of BTCUSDT on instance ``bn``."""
    return Order(
        client_order_id=cid,
        instrument="bn:BTCUSDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        quantity=Decimal(qty),
        price=Decimal(price),
        time_in_force=TimeInForce.GTC,
    )


async def connected(server: BinanceFuturesServer, **overrides: Any) -> CcxtVenue:
    """A connected venue named ``bn``."""
    venue = CcxtVenue(make_config(server, **overrides), instance="bn")
    await venue.connect()
    return venue


def test_plugin_is_installed() -> None:
    assert_plugin_installed("venues", "ccxt", CcxtVenue)


def test_instruments_from_recorded_exchange_info(server: BinanceFuturesServer) -> None:
    async def go() -> list[Instrument]:
        venue = await connected(server, symbols=["BTCUSDT", "ETH/USDT:USDT"])
        try:
            return list(await venue.instruments())
        finally:
            await venue.close()

    btc, eth = asyncio.run(go())
    # Steps from PRICE_FILTER / LOT_SIZE / MIN_NOTIONAL; fees from ccxt's binanceusdm schedule.
    assert btc == Instrument(
        venue="bn",
        symbol="BTCUSDT",
        kind=InstrumentKind.PERP,
        tick_size=Decimal("0.1"),
        lot_size=Decimal("0.001"),
        min_notional=Decimal("10"),
        maker_fee=Decimal("0.0002"),
        taker_fee=Decimal("0.0005"),
    )
    assert eth.key == "bn:ETHUSDT" and eth.tick_size == Decimal("0.01")


def test_unknown_symbol_fails_at_connect_naming_the_key(server: BinanceFuturesServer) -> None:
    async def go() -> None:
        await connected(server, symbols=["BTCUSDX"])

    with pytest.raises(VenueError, match=r"no market 'BTCUSDX' @ \$\.venues\.bn\.symbols"):
        asyncio.run(go())


def test_capabilities_follow_the_exchange(server: BinanceFuturesServer) -> None:
    async def go() -> tuple[frozenset[str], bool]:
        venue = await connected(server)
        try:
            return venue.capabilities, venue.exchange.enableRateLimit
        finally:
            await venue.close()

    caps, rate_limited = asyncio.run(go())
    assert rate_limited is True
    # binanceusdm offers all of them; public trades ("data", "subscribe") need ccxt.pro,
    # which order_updates = "off" does not load (tests/test_ccxt_subscribe.py).
    assert caps == CcxtVenue.capabilities - {"data", "subscribe"}


def test_ccxts_rate_limiters_are_options(server: BinanceFuturesServer) -> None:
    async def go(**overrides: Any) -> tuple[str, float, OrderStatus, object]:
        venue = await connected(server, **overrides)
        try:
            report = await venue.submit_order(limit_buy(f"tw-rl-{len(overrides)}"))
            bucket = venue.exchange.throttler.config
            return bucket["algorithm"], bucket["windowSize"], report.status, venue.limiter
        finally:
            await venue.close()

    algorithm, _, status, limiter = asyncio.run(go(rate_limiter="leaky_bucket"))
    assert (algorithm, status, limiter) == ("leakyBucket", OrderStatus.ACCEPTED, None)
    algorithm, window_ms, status, limiter = asyncio.run(
        go(rate_limiter="rolling_window", rate_window_s=10.0)
    )
    assert (algorithm, window_ms, status, limiter) == (
        "rollingWindow",
        10_000.0,
        OrderStatus.ACCEPTED,
        None,
    )
    with pytest.raises(ValueError, match="rate_limiter must be one of token_bucket"):
        make_config(server, rate_limiter="tokenbucket")
    with pytest.raises(ValueError, match="rate_burst_s must be positive"):
        make_config(server, rate_burst_s=0)


def test_order_round_trip_with_polled_fill(server: BinanceFuturesServer) -> None:
    sink = RecordingSink()

    async def go() -> tuple[OrderReport, OrderReport | None]:
        venue = await connected(server, order_updates="poll", poll_interval_s=0.05)
        venue.set_sink(sink)
        try:
            first = await venue.submit_order(limit_buy("rt-1"))
            trade = server.fill("rt-1", "20000.0")
            await wait_for(lambda: any(isinstance(i, Fill) for i in sink.items))
            await wait_for(lambda: sink.reports[-1].status is OrderStatus.FILLED)
            assert trade["id"] and server.orders["rt-1"]["status"] == "FILLED"
            return first, await venue.fetch_order("bn:BTCUSDT", "rt-1")
        finally:
            await venue.close()

    first, found = asyncio.run(go())
    order_id = str(server.orders["rt-1"]["orderId"])
    assert first.status is OrderStatus.ACCEPTED and first.venue_order_id == order_id
    accepted, fill, filled = sink.items
    assert accepted == first
    assert isinstance(fill, Fill)
    assert (fill.client_order_id, fill.instrument, fill.side) == ("rt-1", "bn:BTCUSDT", Side.BUY)
    assert (fill.quantity, fill.price, fill.liquidity) == (
        Decimal("0.001"),
        Decimal("20000"),
        "maker",
    )
    assert fill.fee == Decimal("0.004")  # commission as charged: 20 USDT × 0.02 %
    assert fill.trade_id == str(server.trades[0]["id"])
    assert isinstance(filled, OrderReport) and filled.status is OrderStatus.FILLED
    assert filled.filled_quantity == Decimal("0.001")
    assert found is not None and found.status is OrderStatus.FILLED
    assert found.client_order_id == "rt-1" and found.venue_order_id == order_id


def test_partial_fill_then_cancel(server: BinanceFuturesServer) -> None:
    sink = RecordingSink()

    async def go() -> OrderReport:
        venue = await connected(server)
        venue.set_sink(sink)
        try:
            await venue.submit_order(limit_buy("pc-1", qty="0.003"))
            server.fill("pc-1", "20000", qty="0.001")
            await venue.poll_once()
            open_now = await venue.fetch_open_orders()
            assert [(r.client_order_id, r.status) for r in open_now] == [
                ("pc-1", OrderStatus.PARTIALLY_FILLED)
            ]
            return await venue.cancel_order("bn:BTCUSDT", "pc-1")
        finally:
            await venue.close()

    cancelled = asyncio.run(go())
    assert cancelled.status is OrderStatus.CANCELLED
    assert cancelled.filled_quantity == Decimal("0.001")
    assert [type(i).__name__ for i in sink.items] == [
        "OrderReport",
        "Fill",
        "OrderReport",
        "OrderReport",
    ]
    assert [r.status for r in sink.reports] == [
        OrderStatus.ACCEPTED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.CANCELLED,
    ]


def test_insufficient_margin_is_rejected(server: BinanceFuturesServer) -> None:
    sink = RecordingSink()

    async def go() -> tuple[str, OrderReport]:
        venue = await connected(server)
        venue.set_sink(sink)
        try:
            with pytest.raises(OrderRejectedError) as info:
                await venue.submit_order(limit_buy("rj-1", qty="1", price="50000"))
            again = await venue.submit_order(limit_buy("rj-1", qty="1", price="50000"))
            return str(info.value), again
        finally:
            await venue.close()

    message, again = asyncio.run(go())
    assert "InsufficientFunds" in message and "Margin is insufficient" in message
    [report] = sink.reports
    assert report.status is OrderStatus.REJECTED and report.client_order_id == "rj-1"
    assert "Margin is insufficient" in report.reason
    assert again == report  # a resend returns the known state
    assert server.create_count() == 1


def test_timeout_after_acceptance_is_looked_up_not_resent(server: BinanceFuturesServer) -> None:
    sink = RecordingSink()
    server.delay_next_create_s = 1.5

    async def go() -> tuple[OrderReport, OrderReport]:
        venue = await connected(server, timeout_ms=400)
        venue.set_sink(sink)
        try:
            report = await venue.submit_order(limit_buy("to-1"))
            again = await venue.submit_order(limit_buy("to-1"))
            return report, again
        finally:
            await venue.close()

    report, again = asyncio.run(go())
    assert report.status is OrderStatus.ACCEPTED and report.client_order_id == "to-1"
    assert report.venue_order_id == str(server.orders["to-1"]["orderId"])
    assert again == report
    assert server.create_count() == 1
    assert ("GET", "/fapi/v1/order") in server.requests


def test_bad_signature_is_refused(server: BinanceFuturesServer) -> None:
    async def go() -> None:
        venue = await connected(server, secret=Secret(WRONG_ENV))
        try:
            await venue.submit_order(limit_buy("bs-1"))
        finally:
            await venue.close()

    with pytest.raises(VenueError, match="refused the credentials") as info:
        asyncio.run(go())
    assert "Signature for this request is not valid" in str(info.value)
    assert not isinstance(info.value, OrderRejectedError)
    assert server.bad_signatures == 1 and server.orders == {}


def test_secrets_never_reach_messages_or_logs(
    server: BinanceFuturesServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []

    async def go() -> None:
        good = await connected(server)
        bad = await connected(server, secret=Secret(WRONG_ENV))
        try:
            await good.fetch_balances()
            await good.submit_order(limit_buy("sx-1"))
            for call in (
                good.submit_order(limit_buy("sx-2", qty="1", price="50000")),
                bad.submit_order(limit_buy("sx-3")),
                bad.fetch_balances(),
                good.cancel_order("bn:BTCUSDT", "never-sent"),
            ):
                try:
                    await call
                except VenueError as exc:
                    errors.append(exc)
        finally:
            await good.close()
            await bad.close()

    asyncio.run(go())
    assert len(errors) == 4
    texts = [str(e) for e in errors] + [str(e.__cause__) for e in errors]
    texts += [r.getMessage() for r in caplog.records]
    # The key travels in every request's headers, which ccxt logs at DEBUG: it was redacted.
    assert any("X-MBX-APIKEY" in r.getMessage() for r in caplog.records)
    for text in texts:
        assert API_KEY not in text and SECRET not in text
        assert "signature=" not in text or "signature=***" in text


def test_positions_balances_and_funding(server: BinanceFuturesServer) -> None:
    async def go() -> tuple[list[Position], dict[str, Decimal], FundingRate]:
        venue = await connected(server)
        try:
            return (
                list(await venue.fetch_positions()),
                dict(await venue.fetch_balances()),
                await venue.fetch_funding_rate("BTCUSDT"),
            )
        finally:
            await venue.close()

    positions, balances, funding = asyncio.run(go())
    assert positions == [
        Position(
            instrument="bn:BTCUSDT",
            quantity=Decimal("0.001"),
            avg_price=Decimal("50000"),
            opened_ts_ns=1625474304765_000_000,
            lots=((Decimal("0.001"), Decimal("50000")),),
        )
    ]
    assert balances == {"USDT": Decimal("23.72469206")}
    assert funding == FundingRate(
        instrument="bn:BTCUSDT",
        rate=Decimal("0.00038246"),
        ts_ns=1597370495002_000_000,
        next_funding_ts_ns=1597392000000_000_000,
        mark_price=Decimal("11793.63104562"),
    )


def test_unsupported_order_features_are_refused_before_sending(
    server: BinanceFuturesServer,
) -> None:
    async def go() -> None:
        venue = await connected(server)
        venue.capabilities = venue.capabilities - {"tif:fok"}  # an exchange without FOK
        try:
            order = Order(
                client_order_id="fk-1",
                instrument="bn:BTCUSDT",
                side=Side.BUY,
                type=OrderType.LIMIT,
                quantity=Decimal("0.001"),
                price=Decimal("20000"),
                time_in_force=TimeInForce.FOK,
            )
            await venue.submit_order(order)
        finally:
            await venue.close()

    with pytest.raises(OrderRejectedError, match="does not offer tif:fok"):
        asyncio.run(go())
    assert server.create_count() == 0


def test_close_is_idempotent_and_closes_the_session(server: BinanceFuturesServer) -> None:
    async def go() -> Any:
        venue = await connected(server, order_updates="poll")
        exchange = venue.exchange
        await venue.close()
        await venue.close()
        return exchange

    exchange = asyncio.run(go())
    assert exchange.session is None or exchange.session.closed


class TestConformance(VenueConformance):
    """The core's venue suite (data and execution tests) against the local Binance server."""

    plugin_class = CcxtVenue
    resting_buy_price = Decimal("1000")
    order_updates = "off"

    @pytest.fixture(autouse=True)
    def _server(self, server: BinanceFuturesServer) -> Iterator[None]:
        self.server = server
        # The exchange's tape: a BTCUSDT trade every 20 ms while anyone subscribes to it.
        stop = threading.Event()

        def tape() -> None:
            price = 43000.0
            while not stop.wait(0.02):
                if "btcusdt@trade" in server.subscribed():
                    price += 0.1
                    server.push_trade("BTCUSDT", f"{price:.1f}", "0.001", buyer_maker=False)

        pusher = threading.Thread(target=tape, name="binance-tape", daemon=True)
        pusher.start()
        yield
        stop.set()
        pusher.join(5)

    async def make_venue(self) -> CcxtVenue:
        return await connected(self.server, order_updates=self.order_updates)

    def test_data_streams_sorted_batches(self) -> None:
        # Public trades need ccxt.pro: order_updates "auto" loads it.
        self.order_updates = "auto"
        super().test_data_streams_sorted_batches()


def test_websocket_order_updates(server: BinanceFuturesServer) -> None:
    """ccxt.pro watch_orders on the user data stream: the fill arrives without polling."""
    sink = RecordingSink()

    async def go() -> str:
        venue = await connected(server, order_updates="websocket")
        venue.set_sink(sink)
        try:
            await venue.submit_order(limit_buy("ws-1"))
            await wait_for(lambda: server.streams, timeout=5)
            server.fill("ws-1", "20000")
            server.push_order_update("ws-1")
            await wait_for(lambda: sink.reports[-1].status is OrderStatus.FILLED)
            return venue.update_mode
        finally:
            await venue.close()

    assert asyncio.run(go()) == "websocket"
    accepted, fill, filled = sink.items
    assert isinstance(accepted, OrderReport) and accepted.status is OrderStatus.ACCEPTED
    assert isinstance(fill, Fill) and fill.trade_id == str(server.trades[0]["id"])
    assert (fill.quantity, fill.price, fill.fee) == (
        Decimal("0.001"),
        Decimal("20000"),
        Decimal("0.004"),
    )
    assert isinstance(filled, OrderReport) and filled.filled_quantity == Decimal("0.001")
    assert ("GET", "/fapi/v1/order") not in server.requests  # no polling happened


def test_the_listen_key_never_reaches_the_logs(
    server: BinanceFuturesServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The user-data ``listenKey`` gives read access to the account's order stream: it is an
    account token, masked in DEBUG logs like the API key and secret (issue 19)."""
    caplog.set_level(logging.DEBUG)
    sink = RecordingSink()

    async def go() -> None:
        venue = await connected(server, order_updates="websocket")
        venue.set_sink(sink)
        try:
            await venue.submit_order(limit_buy("lk-1"))
            await wait_for(lambda: server.streams, timeout=5)  # subscribed with the key
            server.fill("lk-1", "20000")
            server.push_order_update("lk-1")
            await wait_for(lambda: sink.reports[-1].status is OrderStatus.FILLED)
        finally:
            await venue.close()

    asyncio.run(go())
    messages = [r.getMessage() for r in caplog.records]
    # ccxt logged the request that issued the key, and its response, at DEBUG: masked there.
    issued = [m for m in messages if "/fapi/v1/listenKey" in m and "Response" in m]
    assert issued and all('"listenKey": "***"' in m or '"listenKey":"***"' in m for m in issued)
    for text in messages:
        assert server.listen_key_value not in text
        assert API_KEY not in text and SECRET not in text
