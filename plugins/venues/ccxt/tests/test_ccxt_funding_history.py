"""Capability ``"funding:history"``: ccxt's real ``binanceusdm`` reads the account's funding from
the local Binance USD-M server's ``GET /fapi/v1/income`` (``incomeType=FUNDING_FEE``, signed)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal

import pytest
from ccxt_testkit import API_KEY, KEY_ENV, SECRET, SECRET_ENV, set_credentials
from ccxt_testserver_binance import BinanceFuturesServer
from tradewind.model import FundingPayment
from tradewind.protocols import FundingHistoryCapability, check_capabilities
from tradewind.secrets import Secret
from tradewind_venue_ccxt import CcxtVenue, CcxtVenueConfig


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[BinanceFuturesServer]:
    set_credentials(monkeypatch)
    srv = BinanceFuturesServer(API_KEY, SECRET).start()
    yield srv
    srv.stop()
    assert not srv.unknown, f"ccxt called routes the server lacks: {srv.unknown}"


def config(server: BinanceFuturesServer, market_type: str = "swap") -> CcxtVenueConfig:
    return CcxtVenueConfig(
        exchange="binanceusdm",
        market_type=market_type,
        symbols=["BTCUSDT"],
        api_key=Secret(KEY_ENV),
        secret=Secret(SECRET_ENV),
        api_host=server.url,
        order_updates="off",
        timeout_ms=3000,
    )


def test_funding_history_is_the_accounts_funding_fee_income(server: BinanceFuturesServer) -> None:
    server.book_income("BTCUSDT", Decimal("-0.38246000"), 1_700_000_000_000)
    server.book_income("BTCUSDT", Decimal("0.12500000"), 1_700_028_800_000)
    server.book_income("ETHUSDT", Decimal("-5"), 1_700_000_000_000)  # another symbol
    server.book_income("BTCUSDT", Decimal("7"), 1_700_000_000_000, "REALIZED_PNL")  # not funding

    async def go() -> list[FundingPayment]:
        venue = CcxtVenue(config(server), instance="bn")
        await venue.connect()
        try:
            assert "funding:history" in venue.capabilities
            assert isinstance(venue, FundingHistoryCapability)
            check_capabilities(venue, "$.venues.bn")
            return list(await venue.fetch_funding_payments("bn:BTCUSDT"))
        finally:
            await venue.close()

    got = asyncio.run(go())
    zero = Decimal(0)
    assert got == [
        FundingPayment(
            ts_ns=1_700_000_000_000_000_000,
            instrument="bn:BTCUSDT",
            rate=zero,
            mark_price=zero,
            quantity=zero,
            amount=Decimal("0.38246"),  # paid by the account
        ),
        FundingPayment(
            ts_ns=1_700_028_800_000_000_000,
            instrument="bn:BTCUSDT",
            rate=zero,
            mark_price=zero,
            quantity=zero,
            amount=Decimal("-0.125"),  # received
        ),
    ]
    assert server.bad_signatures == 0


def test_income_endpoint_needs_a_valid_signature(server: BinanceFuturesServer) -> None:
    """The route is signed like the server's other account endpoints: ccxt's call with the
    wrong secret is refused, and the plugin names the call that failed."""
    from tradewind.errors import VenueError

    server.secret = "not-the-secret"

    async def go() -> None:
        venue = CcxtVenue(config(server), instance="bn")
        await venue.connect()
        try:
            await venue.fetch_funding_payments("bn:BTCUSDT")
        finally:
            await venue.close()

    with pytest.raises(VenueError, match="fetch_funding_history"):
        asyncio.run(go())
    assert server.bad_signatures >= 1
