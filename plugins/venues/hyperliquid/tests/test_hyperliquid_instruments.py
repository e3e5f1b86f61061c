"""Instruments from the recorded ``meta``, and Hyperliquid's price and size rules."""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest
from hyperliquid_testkit import venue_config
from tradewind.errors import ConfigError
from tradewind.model import Instrument, InstrumentKind
from tradewind_venue_hyperliquid import HyperliquidVenue
from tradewind_venue_hyperliquid.providers import price_error, price_tick, round_price


def load(server, venue_instruments=(), **overrides):
    async def go():
        venue = HyperliquidVenue(venue_config(server, **overrides), "hl", venue_instruments)
        try:
            await venue.connect()
            return list(await venue.instruments())
        finally:
            await venue.close()

    return anyio.run(go)


def test_instruments_come_from_the_recorded_meta(hl_server):
    btc, dydx = load(hl_server)
    # meta: BTC szDecimals 5; the BTC book's mid is 105055.5 -> 5 significant figures = 1.
    assert btc == Instrument(
        venue="hl",
        symbol="BTC",
        kind=InstrumentKind.PERP,
        tick_size=Decimal("1"),
        lot_size=Decimal("0.00001"),
        min_notional=Decimal("10"),
        maker_fee=Decimal("0.00015"),
        taker_fee=Decimal("0.00045"),
    )
    # DYDX szDecimals 1 at ~2.11: 5 significant figures = 0.0001 (<= 6 - 1 = 5 decimals).
    assert (dydx.symbol, dydx.tick_size, dydx.lot_size) == (
        "DYDX",
        Decimal("0.0001"),
        Decimal("0.1"),
    )


def test_every_listed_perp_without_symbols(hl_server):
    insts = load(hl_server, symbols=None, private_key=None, user_stream=False)
    assert len(insts) == 28
    assert {"BTC", "ETH", "kPEPE", "DOGE"} <= {i.symbol for i in insts}
    doge = next(i for i in insts if i.symbol == "DOGE")
    assert doge.lot_size == Decimal("1")  # szDecimals 0


def test_the_host_configs_instruments_choose_the_coins(hl_server):
    mine = [Instrument(venue="hl", symbol="DYDX", lot_size=Decimal("0.1"))]
    insts = load(hl_server, mine, symbols=None)
    assert [i.key for i in insts] == ["hl:DYDX"]


def test_a_lot_finer_than_the_exchange_is_a_config_error(hl_server):
    mine = [Instrument(venue="hl", symbol="DYDX", lot_size=Decimal("0.01"))]
    with pytest.raises(ConfigError, match=r"hl:DYDX has lot_size 0.01, finer than .* 0.1"):
        load(hl_server, mine, symbols=None)


def test_an_unknown_coin_is_a_config_error_naming_the_key(hl_server):
    with pytest.raises(ConfigError, match=r"BTCUSDT is not a listed Hyperliquid perp"):
        load(hl_server, symbols=["BTCUSDT"])
    with pytest.raises(ConfigError, match=r"did you mean kPEPE\?.*\$\.venues\.hl\.symbols"):
        load(hl_server, symbols=["KPEPE"])


def test_leverage_above_the_maximum_is_a_config_error(hl_server):
    with pytest.raises(ConfigError, match=r"leverage 60 for BTC is above its maximum 50"):
        load(hl_server, leverage={"BTC": 60})


# The examples of the docs' "Tick and lot size" page, for perps.
@pytest.mark.parametrize(
    ("price", "sz_decimals", "valid"),
    [
        ("1234.5", 0, True),
        ("1234.56", 0, False),  # too many significant figures
        ("0.001234", 0, True),
        ("0.0012345", 0, False),  # more than 6 decimals
        ("0.01234", 1, True),
        ("0.012345", 1, False),  # more than 6 - szDecimals decimals
        ("123456", 5, True),  # integer prices are always allowed
        ("12345.6", 5, False),
        ("105056", 5, True),
    ],
)
def test_price_rules_follow_the_docs_examples(price, sz_decimals, valid):
    assert (price_error(Decimal(price), sz_decimals) == "") is valid


def test_ticks_and_rounding():
    assert price_tick(Decimal("105055.5"), 5) == Decimal("1")
    assert price_tick(Decimal("5000"), 5) == Decimal("0.1")
    assert price_tick(Decimal("2.11"), 1) == Decimal("0.0001")
    assert price_tick(Decimal("0.0012"), 0) == Decimal("0.000001")
    assert round_price(Decimal("110308.275"), 5, up=False) == Decimal("110308")
    assert round_price(Decimal("99999.95"), 5, up=True) == Decimal("100000")
    assert round_price(Decimal("2.0061375"), 1, up=True) == Decimal("2.0062")
