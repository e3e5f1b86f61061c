"""The daily-drawdown circuit breaker on a real portfolio: the seed's 5 % on $100,000."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tradewind._serde import structure
from tradewind.errors import ConfigError
from tradewind.model import Instrument, InstrumentKind, Side, Signal
from tradewind.testing.portfolios import T0, book_fill, make_signal, portfolio_with
from tradewind.trading.portfolio import Portfolio

from tradewind_filter_drawdown import DrawdownCircuitBreaker, DrawdownConfig

DAY = 86_400 * 10**9
NEXT_DAY = (T0 // DAY + 1) * DAY  # 2020-09-14 00:00 UTC
BTC = Instrument(venue="binance", symbol="BTCUSDT", kind=InstrumentKind.PERP, tick_size="0.1")
ETH = Instrument(venue="binance", symbol="ETHUSDT", kind=InstrumentKind.PERP, tick_size="0.01")


def book() -> Portfolio:
    """The seed's $100,000 account, long 2 BTC at 50,000 (marked there: the day's start)."""
    return portfolio_with([(BTC, Side.BUY, "2", "50000")], cash=100_000, marks={ETH: 3_000.0})


def signal(ts_ns: int, intent: str = "open", side: Side = Side.BUY) -> Signal:
    """An ETH signal at 3,000 with a stop 0.5 % away."""
    stop = "2985" if side is Side.BUY else "3015"
    return make_signal(ETH, side, "3000", stop=stop, quantity="1", ts_ns=ts_ns, intent=intent)


def test_seed_example_4_2_percent_down_does_not_trip():
    """Seed: "Current Total P&L: -$4,200 (-4.2%)" is below the 5 % circuit breaker."""
    pf = book()
    pf.mark(BTC.key, 47_900.0, T0 + 60 * 10**9)  # 2 × −2,100 = −4,200
    flt = DrawdownCircuitBreaker(DrawdownConfig())
    assert flt.check(signal(pf.ts_ns), pf) is None
    assert not flt.tripped


def test_five_percent_down_closes_all_once_then_refuses_entries_for_the_day():
    pf = book()
    pf.mark(BTC.key, 47_500.0, T0 + 60 * 10**9)  # −5,000: exactly 5 % of 100,000
    flt = DrawdownCircuitBreaker(DrawdownConfig())
    first = flt.check(sig := signal(pf.ts_ns), pf)
    assert first is not None
    assert first.filter == "drawdown" and first.signal is sig and first.ts_ns == sig.ts_ns
    assert first.action == "close_all"
    assert first.reason == (
        "circuit breaker: daily drawdown 5.00% (equity 95,000.00, day start 100,000.00) reached "
        "the 5% limit; closing all positions, no new entries until 2020-09-14 00:00 UTC"
    )
    # The engine closes the BTC long; equity stays 5 % down and entries stay refused.
    book_fill(
        pf, BTC, Side.SELL, "2", "47500", ts_ns=T0 + 61 * 10**9, client_order_id="close", mark=False
    )
    pf.mark(BTC.key, 48_000.0, T0 + 3600 * 10**9)
    later = flt.check(signal(pf.ts_ns, side=Side.SELL), pf)
    assert later is not None and later.action == ""
    assert later.reason == (
        "circuit breaker: daily drawdown 5.00% (equity 95,000.00, day start 100,000.00) reached "
        "the 5% limit; no new entries until 2020-09-14 00:00 UTC"
    )
    assert flt.check(signal(NEXT_DAY - 1), pf) is not None  # 23:59:59.999999999 still refused


def test_the_next_utc_day_rearms_it():
    pf = book()
    pf.mark(BTC.key, 47_000.0, T0 + 60 * 10**9)
    flt = DrawdownCircuitBreaker(DrawdownConfig())
    assert flt.check(signal(pf.ts_ns), pf) is not None
    pf.mark(BTC.key, 47_000.0, NEXT_DAY)  # the new day starts at 94,000 of equity
    assert pf.day_start_equity() == Decimal("94000")
    assert flt.check(signal(NEXT_DAY), pf) is None
    assert not flt.tripped


def test_day_comes_from_the_portfolio_clock_not_the_signal_or_wall_clock():
    pf = book()
    pf.mark(BTC.key, 47_000.0, T0 + 60 * 10**9)
    flt = DrawdownCircuitBreaker(DrawdownConfig())
    assert flt.check(signal(pf.ts_ns), pf) is not None
    # A signal stamped tomorrow does not re-arm it while the portfolio is still in today.
    assert flt.check(signal(NEXT_DAY + 1), pf) is not None


def test_closing_signals_pass_and_the_close_all_waits_for_the_first_veto():
    pf = book()
    pf.mark(BTC.key, 47_000.0, T0 + 60 * 10**9)
    flt = DrawdownCircuitBreaker(DrawdownConfig())
    assert flt.check(signal(pf.ts_ns, intent="close"), pf) is None
    assert flt.tripped
    veto = flt.check(signal(pf.ts_ns), pf)
    assert veto is not None and veto.action == "close_all"


def test_manual_reset_gives_a_fresh_budget_from_the_equity_at_reset():
    pf = book()
    pf.mark(BTC.key, 47_500.0, T0 + 60 * 10**9)  # equity 95,000
    flt = DrawdownCircuitBreaker(DrawdownConfig())
    assert flt.check(signal(pf.ts_ns), pf) is not None
    flt.reset()
    assert flt.check(signal(pf.ts_ns), pf) is None  # reference is now 95,000
    pf.mark(BTC.key, 45_125.0, T0 + 120 * 10**9)  # equity 90,250: 5 % below 95,000
    veto = flt.check(signal(pf.ts_ns), pf)
    assert veto is not None and veto.action == "close_all"
    assert veto.reason.startswith(
        "circuit breaker: daily drawdown 5.00% (equity 90,250.00, equity at reset 95,000.00)"
    )


def test_config():
    cfg = structure({"max_daily_drawdown_pct": 0.03}, DrawdownConfig)
    assert cfg.max_daily_drawdown_pct == Decimal("0.03")
    with pytest.raises(ConfigError, match=r"max_daily_drawdown_pct must be in \(0, 1\)"):
        structure({"max_daily_drawdown_pct": 5}, DrawdownConfig)
