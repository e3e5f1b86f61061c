"""The leverage filter on a real portfolio: the seed's 10x hard limit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tradewind._serde import structure
from tradewind.errors import ConfigError
from tradewind.model import Instrument, InstrumentKind, Side, Signal
from tradewind.testing.portfolios import T0, Holding, make_order, make_signal, portfolio_with
from tradewind.trading.portfolio import Portfolio

from tradewind_filter_leverage import LeverageConfig, LeverageFilter

BTC = Instrument(venue="binance", symbol="BTCUSDT", kind=InstrumentKind.PERP, tick_size="0.1")
ETH = Instrument(venue="binance", symbol="ETHUSDT", kind=InstrumentKind.PERP, tick_size="0.01")


def book(*fills: Holding) -> Portfolio:
    """10,000 USDT; each ``(instrument, side, quantity, price)`` filled and marked."""
    return portfolio_with(fills, instruments=(BTC, ETH))


def signal(inst: Instrument, entry: str, qty: str | None, intent: str = "open") -> Signal:
    """A long signal with a stop 0.5 % below the entry."""
    return make_signal(inst, Side.BUY, entry, quantity=qty, intent=intent)


def test_exactly_ten_x_passes_and_past_it_is_refused():
    """Seed: "Never: >10x leverage (our hard limit)"."""
    pf = book((BTC, Side.BUY, "1", "50000"), (ETH, Side.SELL, "10", "4000"))  # 90,000 gross
    flt = LeverageFilter(LeverageConfig())
    assert flt.notional(pf) == Decimal("90000")
    assert flt.check(signal(ETH, "4000", "2.5"), pf) is None  # 100,000 / 10,000 = 10x
    sig = signal(ETH, "4000", "2.6")
    veto = flt.check(sig, pf)
    assert veto is not None
    assert veto.filter == "leverage" and veto.action == "" and veto.signal is sig
    assert veto.reason == (
        "leverage 10.04x would exceed max 10x (notional 100,400.00 / equity 10,000.00)"
    )


def test_a_loss_raises_leverage():
    pf = book((BTC, Side.BUY, "0.9", "50000"))
    flt = LeverageFilter(LeverageConfig(max_leverage="5"))
    assert flt.check(signal(ETH, "4000", "0.1"), pf) is None  # 45,400 / 10,000
    pf.mark(BTC.key, 46_000.0, T0 + 10)  # −3,600: equity 6,400, notional 41,400 + 400
    veto = flt.check(signal(ETH, "4000", "0.1"), pf)
    assert veto is not None
    assert (
        veto.reason == "leverage 6.53x would exceed max 5x (notional 41,800.00 / equity 6,400.00)"
    )


def test_pending_entry_orders_count():
    pf = book((BTC, Side.BUY, "1", "50000"))
    pf.order_opened(make_order("e1", ETH, Side.BUY, "10", "4000"))
    assert LeverageFilter(LeverageConfig()).check(signal(BTC, "50000", "0.3"), pf) is not None
    off = LeverageFilter(LeverageConfig(count_open_orders=False))
    assert off.check(signal(BTC, "50000", "0.3"), pf) is None


def test_no_equity_no_entry():
    pf = book((BTC, Side.BUY, "2", "50000"))
    pf.mark(BTC.key, 44_000.0, T0 + 10)  # −12,000: equity −2,000
    veto = LeverageFilter(LeverageConfig()).check(signal(ETH, "4000", "0.01"), pf)
    assert veto is not None
    assert veto.reason == "equity is -2,000.00: no entry can be levered"


def test_an_unsized_signal_is_refused():
    veto = LeverageFilter(LeverageConfig()).check(signal(BTC, "50000", None), book())
    assert veto is not None
    assert veto.reason == "signal for binance:BTCUSDT has no quantity to check"


def test_closing_signals_always_pass():
    pf = book((BTC, Side.BUY, "3", "50000"))
    assert (
        LeverageFilter(LeverageConfig()).check(signal(BTC, "50000", "3", intent="close"), pf)
        is None
    )


def test_config():
    assert structure({"max_leverage": 3}, LeverageConfig).max_leverage == Decimal(3)
    with pytest.raises(ConfigError, match="max_leverage must be positive"):
        structure({"max_leverage": 0}, LeverageConfig)
