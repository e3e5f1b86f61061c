"""The existing-position filter on a real portfolio: the seed's scenario 1 and its variants."""

from __future__ import annotations

import pytest
from tradewind._serde import structure
from tradewind.errors import ConfigError
from tradewind.model import Instrument, InstrumentKind, Side, Signal
from tradewind.testing.portfolios import Holding, make_signal, portfolio_with
from tradewind.trading.portfolio import Portfolio

from tradewind_filter_existing import ExistingConfig, ExistingPositionFilter

BTC = Instrument(venue="binance", symbol="BTCUSDT", kind=InstrumentKind.PERP, tick_size="0.1")
ETH = Instrument(venue="binance", symbol="ETHUSDT", kind=InstrumentKind.PERP, tick_size="0.01")


def book(*fills: Holding) -> Portfolio:
    """10,000 USDT of cash, each ``(instrument, side, quantity, price)`` filled and marked."""
    return portfolio_with(fills, instruments=(BTC, ETH))


def signal(inst: Instrument, side: Side, entry: str, intent: str = "open") -> Signal:
    """A signal with a stop 0.5 % away and a quantity of 0.01."""
    return make_signal(inst, side, entry, quantity="0.01", intent=intent)


def test_seed_scenario_1_buy_btcusdt_at_50000_with_a_position_is_rejected():
    """Seed: "Trade Signal: BUY BTCUSDT @ $50,000 → REJECT: Position already exists"."""
    pf = book((BTC, Side.BUY, "0.01", "50000"))
    sig = signal(BTC, Side.BUY, "50000")
    veto = ExistingPositionFilter(ExistingConfig()).check(sig, pf)
    assert veto is not None
    assert veto.filter == "existing"
    assert veto.reason == "position already exists for binance:BTCUSDT: long 0.01 at 50,000"
    assert veto.signal is sig and veto.ts_ns == sig.ts_ns and veto.action == ""


def test_no_position_passes():
    pf = book((ETH, Side.BUY, "1", "3000"))
    assert (
        ExistingPositionFilter(ExistingConfig()).check(signal(BTC, Side.BUY, "50000"), pf) is None
    )


def test_short_position_blocks_a_sell():
    pf = book((BTC, Side.SELL, "0.02", "50000"), (BTC, Side.SELL, "0.02", "51000"))
    veto = ExistingPositionFilter(ExistingConfig()).check(signal(BTC, Side.SELL, "51000"), pf)
    assert veto is not None
    assert veto.reason == "position already exists for binance:BTCUSDT: short 0.04 at 50,500"


def test_opposite_position_is_left_to_the_reversal_check_by_default():
    pf = book((BTC, Side.SELL, "0.01", "50000"))
    assert (
        ExistingPositionFilter(ExistingConfig()).check(signal(BTC, Side.BUY, "50000"), pf) is None
    )


def test_side_any_refuses_the_opposite_side_too():
    pf = book((BTC, Side.SELL, "0.01", "50000"))
    flt = ExistingPositionFilter(ExistingConfig(side="any"))
    veto = flt.check(signal(BTC, Side.BUY, "50000"), pf)
    assert veto is not None
    assert veto.reason == "position already exists for binance:BTCUSDT: short 0.01 at 50,000"


def test_a_closed_position_no_longer_counts():
    pf = book((BTC, Side.BUY, "0.01", "50000"), (BTC, Side.SELL, "0.01", "50100"))
    assert (
        ExistingPositionFilter(ExistingConfig()).check(signal(BTC, Side.BUY, "50100"), pf) is None
    )


def test_closing_signals_always_pass():
    pf = book((BTC, Side.BUY, "0.01", "50000"))
    flt = ExistingPositionFilter(ExistingConfig(side="any"))
    assert flt.check(signal(BTC, Side.SELL, "50000", intent="close"), pf) is None
    assert flt.check(signal(BTC, Side.BUY, "50000", intent="close"), pf) is None


def test_config_from_toml_values_and_a_bad_side():
    assert structure({"side": "any"}, ExistingConfig) == ExistingConfig(side="any")
    with pytest.raises(ConfigError, match="side must be one of same, any"):
        structure({"side": "both"}, ExistingConfig)


def test_the_average_entry_reads_at_the_tick():
    pf = book((BTC, Side.BUY, "0.01", "50000"), (BTC, Side.BUY, "0.02", "50000.1"))
    assert str(pf.position(BTC.key).avg_price).startswith("50000.0666666")
    veto = ExistingPositionFilter(ExistingConfig()).check(signal(BTC, Side.BUY, "50000"), pf)
    assert veto is not None
    assert veto.reason == "position already exists for binance:BTCUSDT: long 0.03 at 50,000.1"
