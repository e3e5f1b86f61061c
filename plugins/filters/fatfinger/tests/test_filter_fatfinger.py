"""The fat-finger filter against the last trade of a real portfolio."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tradewind._serde import structure
from tradewind.errors import ConfigError
from tradewind.model import Instrument, InstrumentKind, Side, Signal
from tradewind.testing.portfolios import T0, make_signal, portfolio_with
from tradewind.trading.portfolio import Portfolio

from tradewind_filter_fatfinger import FatFingerConfig, FatFingerFilter

BTC = Instrument(venue="binance", symbol="BTCUSDT", kind=InstrumentKind.PERP, tick_size="0.1")
PEPE = Instrument(venue="binance", symbol="PEPEUSDT", tick_size="0.00000001", lot_size="1")


def book() -> Portfolio:
    """10,000 USDT, BTC last traded at 50,000, PEPE never traded."""
    return portfolio_with(instruments=(PEPE,), marks={BTC: 50_000.0})


def signal(inst: Instrument, side: Side, entry: str, intent: str = "open") -> Signal:
    """A signal with a stop 0.5 % away."""
    return make_signal(inst, side, entry, quantity="0.01", intent=intent)


def test_entry_at_the_market_passes():
    assert FatFingerFilter(FatFingerConfig()).check(signal(BTC, Side.BUY, "50000"), book()) is None


def test_exactly_one_percent_away_passes_either_side():
    flt = FatFingerFilter(FatFingerConfig())
    assert flt.check(signal(BTC, Side.BUY, "50500"), book()) is None
    assert flt.check(signal(BTC, Side.SELL, "49500"), book()) is None


def test_a_buy_with_an_extra_digit_is_refused():
    sig = signal(BTC, Side.BUY, "500000")
    veto = FatFingerFilter(FatFingerConfig()).check(sig, book())
    assert veto is not None
    assert veto.filter == "fatfinger" and veto.action == "" and veto.signal is sig
    assert veto.reason == "entry 500,000 is 900.00% from the last trade 50,000 (max 1.00%)"


def test_just_past_the_band_is_refused_below_the_market_too():
    veto = FatFingerFilter(FatFingerConfig()).check(signal(BTC, Side.SELL, "49490"), book())
    assert veto is not None
    assert veto.reason == "entry 49,490 is 1.02% from the last trade 50,000 (max 1.00%)"


def test_band_follows_the_last_trade():
    pf = book()
    flt = FatFingerFilter(FatFingerConfig(max_deviation_pct="0.002"))
    assert flt.check(signal(BTC, Side.BUY, "50300"), pf) is not None
    pf.mark(BTC.key, 50_250.0, T0 + 1)
    assert flt.check(signal(BTC, Side.BUY, "50300"), pf) is None


def test_no_last_trade_means_no_entry():
    veto = FatFingerFilter(FatFingerConfig()).check(signal(PEPE, Side.BUY, "0.0000012"), book())
    assert veto is not None
    assert veto.reason == "no last trade for binance:PEPEUSDT to check the entry price against"


def test_small_prices_print_in_full():
    pf = book()
    pf.mark(PEPE.key, 0.0000012, T0)
    veto = FatFingerFilter(FatFingerConfig()).check(signal(PEPE, Side.BUY, "0.0000013"), pf)
    assert veto is not None
    assert veto.reason == "entry 0.0000013 is 8.33% from the last trade 0.0000012 (max 1.00%)"


def test_closing_signals_always_pass():
    flt = FatFingerFilter(FatFingerConfig())
    assert flt.check(signal(BTC, Side.SELL, "1", intent="close"), book()) is None
    assert flt.check(signal(PEPE, Side.SELL, "1", intent="close"), book()) is None


def test_config():
    assert structure({"max_deviation_pct": 0.02}, FatFingerConfig).max_deviation_pct == Decimal(
        "0.02"
    )
    with pytest.raises(ConfigError, match=r"max_deviation_pct must be in \(0, 1\)"):
        structure({"max_deviation_pct": 1}, FatFingerConfig)
