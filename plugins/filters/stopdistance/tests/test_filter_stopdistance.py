"""The stop-distance filter: the seed's 0.5 % from entry, on the instruments' ticks."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tradewind._serde import structure
from tradewind.errors import ConfigError
from tradewind.model import Instrument, InstrumentKind, Side, Signal
from tradewind.testing.portfolios import T0, make_signal, portfolio_with
from tradewind.trading.portfolio import Portfolio

from tradewind_filter_stopdistance import StopDistanceConfig, StopDistanceFilter

BTC = Instrument(venue="binance", symbol="BTCUSDT", kind=InstrumentKind.PERP, tick_size="0.1")
SOL = Instrument(venue="binance", symbol="SOLUSDT", kind=InstrumentKind.PERP, tick_size="0.01")


def book() -> Portfolio:
    """10,000 USDT, flat."""
    return portfolio_with(instruments=(BTC, SOL))


def signal(inst: Instrument, side: Side, entry: str, stop: str, intent: str = "open") -> Signal:
    """A signal with the given entry and stop."""
    return make_signal(inst, side, entry, stop=stop, quantity="1", ts_ns=T0, intent=intent)


def test_seed_example_entry_50000_stop_49750_is_exactly_half_a_percent_and_passes():
    """Seed: "trailing_stop = $50,000 * (1 - 0.005) = $49,750  # 0.5% below"."""
    flt = StopDistanceFilter(StopDistanceConfig())
    assert flt.check(signal(BTC, Side.BUY, "50000", "49750"), book()) is None
    assert flt.check(signal(BTC, Side.SELL, "50000", "50250"), book()) is None


def test_seed_scenario_3_filled_at_100_05_stop_at_99_55_passes():
    """Seed: "Order filled at $100.05 → Trailing stop activated at $99.55 (-0.5%)"."""
    assert (
        StopDistanceFilter(StopDistanceConfig()).check(
            signal(SOL, Side.BUY, "100.05", "99.55"), book()
        )
        is None
    )


def test_a_stop_further_than_half_a_percent_is_refused():
    sig = signal(BTC, Side.BUY, "50000", "49740")
    veto = StopDistanceFilter(StopDistanceConfig()).check(sig, book())
    assert veto is not None
    assert veto.filter == "stopdistance" and veto.action == "" and veto.signal is sig
    assert veto.reason == "stop 49,740 is 0.520% from the entry 50,000 (max 0.500%)"


def test_a_stop_on_the_wrong_side_or_on_the_entry_is_refused():
    flt = StopDistanceFilter(StopDistanceConfig())
    veto = flt.check(signal(BTC, Side.BUY, "50000", "50100"), book())
    assert veto is not None
    assert veto.reason == "stop 50,100 of a buy must be below the entry 50,000"
    veto = flt.check(signal(BTC, Side.SELL, "50000", "50000"), book())
    assert veto is not None
    assert veto.reason == "stop 50,000 of a sell must be above the entry 50,000"


def test_half_a_tick_of_rounding_is_tolerated_unless_turned_off():
    # The strategy's stop: 0.5 % below 101.01 is 100.50495, rounded to the tick: 100.50.
    stop = SOL.round_price(Decimal("101.01") * Decimal("0.995"))
    assert stop == Decimal("100.50")
    sig = signal(SOL, Side.BUY, "101.01", str(stop))
    assert StopDistanceFilter(StopDistanceConfig()).check(sig, book()) is None
    strict = StopDistanceFilter(StopDistanceConfig(tick_tolerance=False))
    veto = strict.check(sig, book())
    assert veto is not None
    assert veto.reason == "stop 100.5 is 0.505% from the entry 101.01 (max 0.500%)"
    # A whole tick further is refused even with the tolerance.
    assert (
        StopDistanceFilter(StopDistanceConfig()).check(
            signal(SOL, Side.BUY, "101.01", "100.49"), book()
        )
        is not None
    )


def test_closing_signals_always_pass():
    flt = StopDistanceFilter(StopDistanceConfig())
    assert flt.check(signal(BTC, Side.SELL, "50000", "10", intent="close"), book()) is None


def test_config():
    cfg = structure({"max_stop_pct": 0.01, "tick_tolerance": False}, StopDistanceConfig)
    assert cfg.max_stop_pct == Decimal("0.01") and not cfg.tick_tolerance
    with pytest.raises(ConfigError, match=r"max_stop_pct must be in \(0, 1\)"):
        structure({"max_stop_pct": 0}, StopDistanceConfig)
