"""The ccxt venue against a local Bybit v5 server (linear perpetuals) that verifies signatures."""

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
    WRONG_ENV,
    RecordingSink,
    set_credentials,
    wait_for,
)
from ccxt_testserver_bybit import BybitLinearServer
from tradewind.errors import OrderRejectedError, VenueError
from tradewind.model import (
    Fill,
    Instrument,
    InstrumentKind,
    Order,
    OrderReport,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from tradewind.secrets import Secret
from tradewind.testing.conformance import VenueConformance
from tradewind_venue_ccxt import CcxtVenue, CcxtVenueConfig

pytest_plugins = "tradewind.testing"


def make_config(server: BybitLinearServer, **overrides: Any) -> CcxtVenueConfig:
    """A bybit linear-perpetual config pointed at ``server``."""
    values: dict[str, Any] = {
        "exchange": "bybit",
        "market_type": "swap",
        "symbols": ["BTC/USDT:USDT"],
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
def bybit(monkeypatch: pytest.MonkeyPatch) -> Iterator[BybitLinearServer]:
    """A fresh Bybit server on 127.0.0.1, port 0, and the test credentials."""
    set_credentials(monkeypatch)
    srv = BybitLinearServer(API_KEY, SECRET).start()
    yield srv
    srv.stop()
    assert not srv.unknown, f"ccxt called routes the server lacks: {srv.unknown}"


async def connected(server: BybitLinearServer, **overrides: Any) -> CcxtVenue:
    """A connected venue named ``by``."""
    venue = CcxtVenue(make_config(server, **overrides), instance="by")
    await venue.connect()
    return venue


def limit_buy(cid: str, qty: str = "0.001", price: str = "20000") -> Order:
    """A resting GTC limit buy of BTCUSDT on instance ``by``."""
    return Order(
        client_order_id=cid,
        instrument="by:BTCUSDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        quantity=Decimal(qty),
        price=Decimal(price),
        time_in_force=TimeInForce.GTC,
    )


def test_instruments_from_recorded_instruments_info(bybit: BybitLinearServer) -> None:
    async def go() -> list[Instrument]:
        venue = await connected(bybit)
        try:
            return list(await venue.instruments())
        finally:
            await venue.close()

    # The unified symbol in config names the instrument by Bybit's market id.
    assert asyncio.run(go()) == [
        Instrument(
            venue="by",
            symbol="BTCUSDT",
            kind=InstrumentKind.PERP,
            tick_size=Decimal("0.5"),
            lot_size=Decimal("0.001"),
            min_notional=Decimal("0"),
            maker_fee=Decimal("0.0001"),
            taker_fee=Decimal("0.0006"),
        )
    ]


def test_order_round_trip(bybit: BybitLinearServer) -> None:
    sink = RecordingSink()

    async def go() -> tuple[OrderReport, OrderReport | None]:
        venue = await connected(bybit, order_updates="poll", poll_interval_s=0.05)
        venue.set_sink(sink)
        try:
            first = await venue.submit_order(limit_buy("by-rt-1"))
            bybit.fill("by-rt-1", "20000")
            await wait_for(lambda: sink.reports[-1].status is OrderStatus.FILLED)
            return first, await venue.fetch_order("by:BTCUSDT", "by-rt-1")
        finally:
            await venue.close()

    first, found = asyncio.run(go())
    order_id = bybit.orders["by-rt-1"]["orderId"]
    assert first.status is OrderStatus.ACCEPTED and first.venue_order_id == order_id
    accepted, fill, filled = sink.items
    assert accepted == first
    assert isinstance(fill, Fill)
    assert (fill.quantity, fill.price, fill.fee, fill.liquidity) == (
        Decimal("0.001"),
        Decimal("20000"),
        Decimal("0.004"),
        "maker",
    )
    assert fill.trade_id == bybit.executions[0]["execId"]
    assert isinstance(filled, OrderReport) and filled.status is OrderStatus.FILLED
    assert found is not None and found.status is OrderStatus.FILLED
    assert found.filled_quantity == Decimal("0.001")


def test_insufficient_balance_is_rejected(bybit: BybitLinearServer) -> None:
    sink = RecordingSink()

    async def go() -> None:
        venue = await connected(bybit)
        venue.set_sink(sink)
        try:
            await venue.submit_order(limit_buy("by-rj-1", qty="1", price="50000"))
        finally:
            await venue.close()

    with pytest.raises(OrderRejectedError, match="ab not enough for new order"):
        asyncio.run(go())
    [report] = sink.reports
    assert report.status is OrderStatus.REJECTED and report.client_order_id == "by-rj-1"


def test_timeout_after_acceptance_is_looked_up(bybit: BybitLinearServer) -> None:
    bybit.delay_next_create_s = 1.5

    async def go() -> OrderReport:
        venue = await connected(bybit, timeout_ms=400)
        try:
            return await venue.submit_order(limit_buy("by-to-1"))
        finally:
            await venue.close()

    report = asyncio.run(go())
    assert report.status is OrderStatus.ACCEPTED
    assert report.venue_order_id == bybit.orders["by-to-1"]["orderId"]
    assert bybit.create_count() == 1


def test_bad_signature_is_refused(bybit: BybitLinearServer) -> None:
    async def go() -> None:
        venue = await connected(bybit, secret=Secret(WRONG_ENV))
        try:
            await venue.fetch_balances()
        finally:
            await venue.close()

    with pytest.raises(VenueError, match="refused the credentials") as info:
        asyncio.run(go())
    assert "error sign" in str(info.value)
    assert SECRET not in str(info.value) and API_KEY not in str(info.value)
    assert bybit.bad_signatures == 1


class TestConformance(VenueConformance):
    """The core's venue suite (execution tests) against the local Bybit server."""

    plugin_class = CcxtVenue
    resting_buy_price = Decimal("1000")

    @pytest.fixture(autouse=True)
    def _server(self, bybit: BybitLinearServer) -> None:
        self.server = bybit

    async def make_venue(self) -> CcxtVenue:
        return await connected(self.server)

    def _caps(self) -> frozenset[str]:
        # The public trade stream ("data") is run against the Binance server's market
        # websocket (test_ccxt_binance.py, test_ccxt_subscribe.py); this Bybit server speaks
        # REST only, so the suite runs its execution tests here.
        return CcxtVenue.capabilities - {"data", "subscribe"}

    def test_declares_plugin_attributes(self) -> None:
        """Run once, in the Binance module."""

    def test_config_class_forbids_unknown_keys(self) -> None:
        """Run once, in the Binance module."""


def test_polling_survives_an_outage(bybit: BybitLinearServer) -> None:
    """A failed poll reports ConnectionLost once; polling resumes when the server answers."""
    sink = RecordingSink()

    async def go() -> None:
        venue = await connected(bybit, timeout_ms=500)
        venue.set_sink(sink)
        try:
            await venue.submit_order(limit_buy("by-out-1"))
            bybit.api_key = "rotated"  # every private call now fails
            await venue.poll_once()
            await venue.poll_once()
            bybit.api_key = API_KEY
            bybit.fill("by-out-1", "20000")
            await venue.poll_once()
        finally:
            await venue.close()

    asyncio.run(go())
    kinds = [type(i).__name__ for i in sink.items]
    assert kinds == ["OrderReport", "ConnectionLost", "Fill", "OrderReport"]
    assert sink.reports[-1].status is OrderStatus.FILLED
