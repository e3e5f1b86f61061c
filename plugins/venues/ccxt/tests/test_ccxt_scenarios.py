"""The core's venue scenarios (``tradewind.testing.scenarios``) for every market type the ccxt
venue declares, against the local exchange servers: Binance spot, Binance USDⓈ-M, Bybit
linear perpetuals."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from ccxt_testkit import API_KEY, KEY_ENV, SECRET, SECRET_ENV, set_credentials
from ccxt_testserver_binance import BinanceFuturesServer
from ccxt_testserver_binance_spot import BinanceSpotServer
from ccxt_testserver_bybit import BybitLinearServer
from tradewind.secrets import Secret
from tradewind.testing.scenarios import VenueScenarios
from tradewind_venue_ccxt import CcxtVenue, CcxtVenueConfig

pytest_plugins = "tradewind.testing"


def config(server: Any, **values: Any) -> CcxtVenueConfig:
    base: dict[str, Any] = {
        "api_key": Secret(KEY_ENV),
        "secret": Secret(SECRET_ENV),
        "api_host": server.url,
        "order_updates": "poll",
        "poll_interval_s": 0.02,
        "timeout_ms": 3000,
        "lookup_delay_s": 0.05,
    }
    base.update(values)
    return CcxtVenueConfig(**base)


class TestBinanceSpotScenarios(VenueScenarios):
    """Spot: the close is a plain sell of what the account holds; the buy's commission is
    charged in BTC (Binance's default)."""

    plugin_class = CcxtVenue
    market_type = "spot"
    instrument = "bs:BTCUSDT"
    quantity = Decimal("0.01")
    resting_buy_price = Decimal("1000")

    @pytest.fixture(autouse=True)
    def _server(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        set_credentials(monkeypatch)
        self.server = BinanceSpotServer(API_KEY, SECRET).start()
        yield
        self.server.stop()
        assert not self.server.unknown, self.server.unknown

    async def make_venue(self) -> CcxtVenue:
        cfg = config(self.server, exchange="binance", market_type="spot", symbols=["BTCUSDT"])
        venue = CcxtVenue(cfg, instance="bs")
        await venue.connect()
        return venue

    def execute(
        self, client_order_id: str, price: Decimal | None = None, quantity: Decimal | None = None
    ) -> None:
        self.server.fill(
            client_order_id,
            str(price or self.server.price),
            None if quantity is None else str(quantity),
        )


class TestBinanceUsdmScenarios(VenueScenarios):
    """USDⓈ-M perpetual: the close is reduce-only."""

    plugin_class = CcxtVenue
    market_type = "perp"
    instrument = "bn:BTCUSDT"
    quantity = Decimal("0.01")
    resting_buy_price = Decimal("20000")

    @pytest.fixture(autouse=True)
    def _server(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        set_credentials(monkeypatch)
        self.server = BinanceFuturesServer(API_KEY, SECRET).start()
        self.server.available = Decimal("1000000")  # margin for the scenarios' orders
        yield
        self.server.stop()
        assert not self.server.unknown, self.server.unknown

    async def make_venue(self) -> CcxtVenue:
        cfg = config(self.server, exchange="binanceusdm", market_type="swap", symbols=["BTCUSDT"])
        venue = CcxtVenue(cfg, instance="bn")
        await venue.connect()
        return venue

    def market_executes_itself(self) -> bool:
        return False  # the server acknowledges a MARKET order; execute() fills it

    def execute(
        self, client_order_id: str, price: Decimal | None = None, quantity: Decimal | None = None
    ) -> None:
        size = None if quantity is None else str(quantity)
        self.server.fill(client_order_id, str(price or Decimal("50000")), size)

    def test_the_close_reached_the_exchange_reduce_only(self) -> None:
        self.test_open_and_close_a_position()
        with self.server.lock:
            flags = [o["reduceOnly"] for o in self.server.orders.values()]
        assert flags == [False, True]


class TestBybitScenarios(VenueScenarios):
    """Bybit linear perpetual: the close is reduce-only."""

    plugin_class = CcxtVenue
    market_type = "perp"
    instrument = "by:BTCUSDT"
    quantity = Decimal("0.01")
    resting_buy_price = Decimal("20000")

    @pytest.fixture(autouse=True)
    def _server(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        set_credentials(monkeypatch)
        self.server = BybitLinearServer(API_KEY, SECRET).start()
        yield
        self.server.stop()
        assert not self.server.unknown, self.server.unknown

    async def make_venue(self) -> CcxtVenue:
        cfg = config(self.server, exchange="bybit", market_type="swap", symbols=["BTC/USDT:USDT"])
        venue = CcxtVenue(cfg, instance="by")
        await venue.connect()
        return venue

    def market_executes_itself(self) -> bool:
        return False

    def execute(
        self, client_order_id: str, price: Decimal | None = None, quantity: Decimal | None = None
    ) -> None:
        size = None if quantity is None else str(quantity)
        self.server.fill(client_order_id, str(price or Decimal("50000")), size)
