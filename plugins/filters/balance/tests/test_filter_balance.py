"""The balance filter on a real portfolio: perp margin at 5x with the 50 % buffer, and spot."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tradewind._serde import structure
from tradewind.errors import ConfigError
from tradewind.model import Instrument, InstrumentKind, Side, Signal
from tradewind.testing.portfolios import T0, Holding, make_order, make_signal, portfolio_with
from tradewind.trading.portfolio import Portfolio

from tradewind_filter_balance import BalanceConfig, BalanceFilter

BTC = Instrument(venue="binance", symbol="BTCUSDT", kind=InstrumentKind.PERP, tick_size="0.1")
ETH = Instrument(venue="binance", symbol="ETHUSDT", kind=InstrumentKind.PERP, tick_size="0.01")
SOL = Instrument(venue="binance", symbol="SOLUSDT", kind=InstrumentKind.SPOT, tick_size="0.01")


def book(*fills: Holding) -> Portfolio:
    """The seed's $10,000 account; each ``(instrument, side, quantity, price)`` filled, marked."""
    return portfolio_with(fills, instruments=(BTC, ETH, SOL))


def signal(inst: Instrument, entry: str, qty: str | None, intent: str = "open") -> Signal:
    """A long signal with a stop 0.5 % below the entry."""
    return make_signal(inst, Side.BUY, entry, quantity=qty, intent=intent)


def test_seed_sizing_example_8000_notional_at_5x_on_10000_passes():
    """Seed: "account_size = $10,000 ... leverage = 5x ... position_size = $8,000 notional"."""
    assert BalanceFilter(BalanceConfig()).check(signal(BTC, "50000", "0.16"), book()) is None


def test_perp_entry_that_eats_into_the_50_percent_buffer_is_refused():
    pf = book((ETH, Side.BUY, "6", "3000"))  # 18,000 notional: 3,600 margin at 5x
    flt = BalanceFilter(BalanceConfig())
    assert flt.margin_used(pf) == Decimal("3600")
    sig = signal(BTC, "50000", "0.16")  # 8,000 notional: 1,600 margin
    veto = flt.check(sig, pf)
    assert veto is not None
    assert veto.filter == "balance" and veto.action == "" and veto.signal is sig
    assert veto.reason == (
        "margin 1,600.00 (notional 8,000.00 at 5x) exceeds free equity 1,400.00 "
        "(equity 10,000.00 − margin in use 3,600.00 − 50% buffer 5,000.00)"
    )
    # Exactly what is free passes: 1,400 of margin is 7,000 of notional.
    assert flt.check(signal(BTC, "50000", "0.14"), pf) is None


def test_losses_shrink_the_free_equity():
    pf = book((ETH, Side.BUY, "6", "3000"))
    pf.mark(ETH.key, 2900.0, T0 + 10)  # −600 unrealised: equity 9,400, margin 3,480
    veto = BalanceFilter(BalanceConfig()).check(signal(BTC, "50000", "0.14"), pf)
    assert veto is not None
    assert veto.reason == (
        "margin 1,400.00 (notional 7,000.00 at 5x) exceeds free equity 1,220.00 "
        "(equity 9,400.00 − margin in use 3,480.00 − 50% buffer 4,700.00)"
    )


def test_spot_needs_the_full_notional_and_no_buffer():
    pf = book((SOL, Side.BUY, "60", "100"))  # 6,000 of cash spent
    flt = BalanceFilter(BalanceConfig())
    assert flt.check(signal(SOL, "100", "40"), pf) is None  # the remaining 4,000 exactly
    veto = flt.check(signal(SOL, "100", "45"), pf)
    assert veto is not None
    assert veto.reason == (
        "cost 4,500.00 exceeds free equity 4,000.00 (equity 10,000.00 − margin in use 6,000.00)"
    )


def test_pending_entry_orders_tie_up_margin():
    pf = book()
    pf.order_opened(make_order("e1", ETH, Side.BUY, "8", "2500"))  # 20,000 notional: 4,000 margin
    flt = BalanceFilter(BalanceConfig())
    veto = flt.check(signal(BTC, "50000", "0.16"), pf)
    assert veto is not None and "margin in use 4,000.00" in veto.reason
    off = BalanceFilter(BalanceConfig(count_open_orders=False))
    assert off.check(signal(BTC, "50000", "0.16"), pf) is None


def test_no_buffer_and_higher_leverage():
    pf = book((ETH, Side.BUY, "6", "3000"))
    flt = BalanceFilter(BalanceConfig(leverage=10, margin_buffer_pct=0))
    assert flt.margin_used(pf) == Decimal("1800")
    assert flt.check(signal(BTC, "50000", "1.64"), pf) is None  # 8,200 margin: all that is free
    assert flt.check(signal(BTC, "50000", "1.641"), pf) is not None


def test_an_unsized_signal_is_refused():
    veto = BalanceFilter(BalanceConfig()).check(signal(BTC, "50000", None), book())
    assert veto is not None
    assert veto.reason == "signal for binance:BTCUSDT has no quantity to check"


def test_closing_signals_always_pass():
    pf = book((ETH, Side.BUY, "30", "3000"))
    assert (
        BalanceFilter(BalanceConfig()).check(signal(ETH, "3000", "30", intent="close"), pf) is None
    )


def test_config():
    cfg = structure({"leverage": 3, "margin_buffer_pct": "0.3"}, BalanceConfig)
    assert cfg.leverage == Decimal(3) and cfg.margin_buffer_pct == Decimal("0.3")
    with pytest.raises(ConfigError, match="leverage must be at least 1"):
        structure({"leverage": 0.5}, BalanceConfig)
    with pytest.raises(ConfigError, match=r"margin_buffer_pct must be in \[0, 1\)"):
        structure({"margin_buffer_pct": 1}, BalanceConfig)
