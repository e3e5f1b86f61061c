"""The liquidity watch on scripted pool-liquidity paths, one value per 1m candle close."""

import math
from decimal import Decimal

import numpy as np
import pytest
from tradewind.errors import ConfigError
from tradewind.model import Candle, Position
from tradewind.testing import assert_plugin_installed, default_instrument
from tradewind.testing.conformance import ExitConformance
from tradewind_exit_liquidity.plugin import LiquidityConfig, LiquidityWatch

pytest_plugins = "tradewind.testing"

KEY = default_instrument().key
MIN = 60 * 10**9
T0 = 1_700_000_040 * 10**9  # a minute boundary; the position opens here


def minute(m, close=0.5, tf_min=1):
    """The candle of ``tf_min`` minutes closing ``m`` minutes after the entry."""
    return Candle(
        instrument=KEY,
        timeframe_ns=tf_min * MIN,
        open_ts_ns=T0 + (m - tf_min) * MIN,
        open=close,
        high=close,
        low=close,
        close=close,
        volume=1.0,
        buy_volume=0.5,
        sell_volume=0.5,
        trades=2,
        buy_trades=1,
        sell_trades=1,
        vwap=close,
    )


def long(opened=T0):
    return Position(
        instrument=KEY, quantity=Decimal(1000), avg_price=Decimal("0.5"), opened_ts_ns=opened
    )


def run(mon, path, position=None, start=1):
    """Feed ``path`` (liquidity per minute from minute ``start``); the first exit, if any."""
    pos = position or long()
    for m, liq in enumerate(path, start):
        d = mon.on_candle(pos, minute(m, close=0.5 + m / 1000), {"pool.liquidity_usd": liq}, None)
        if d is not None:
            return m, d
    return None


def test_plugin_is_installed():
    assert_plugin_installed("exits", "liquidity", LiquidityWatch)


def test_defaults_are_the_seeds_30_percent_in_10_minutes():
    cfg = LiquidityConfig()
    assert (cfg.liquidity_value, cfg.drop_pct, cfg.window_minutes) == (
        "pool.liquidity_usd",
        0.30,
        10.0,
    )


def test_a_rug_exits_at_the_first_close_more_than_30_percent_down():
    mon = LiquidityWatch(LiquidityConfig())
    # $1.0M at the first close after entry; exactly -30 % holds, -31 % exits.
    hit = run(mon, [1_000_000, 950_000, 880_000, 760_000, 700_000, 690_000, 100_000])
    assert hit is not None
    m, d = hit
    assert m == 6 and (d.ts_ns, d.price) == (T0 + 6 * MIN, 0.506)
    assert d.monitor == "liquidity"
    assert d.reason == (
        "pool.liquidity_usd fell 31.00% to 690,000.00 from 1,000,000.00 "
        "(the highest of the last 10 min; limit 30%)"
    )


def test_a_slow_bleed_of_3_percent_a_minute_never_loses_30_percent_within_10_minutes():
    path = [1_000_000 * 0.97**m for m in range(40)]  # 10 minutes: 0.97**10 = 0.737
    assert run(LiquidityWatch(LiquidityConfig()), path) is None


def test_window_0_measures_from_the_peak_since_entry():
    path = [1_000_000 * 0.97**m for m in range(40)]
    hit = run(LiquidityWatch(LiquidityConfig(window_minutes=0)), path)
    assert hit is not None and hit[0] == 13  # 0.97**12 = 0.694 < 0.7, the 13th close


def test_the_reference_is_the_peak_of_the_window_not_the_entry_value():
    mon = LiquidityWatch(LiquidityConfig())
    # A 20 % dip, then flat: after 10 minutes the $1.0M peak leaves the window.
    path = [1_000_000] + [800_000] * 11 + [600_000]  # 600k is 25 % below 800k
    assert run(mon, path) is None
    assert mon.reference(KEY) == 800_000
    # Within the window the peak still counts: -40 % from 1.0M at minute 11 exits.
    hit = run(LiquidityWatch(LiquidityConfig()), [1_000_000] + [800_000] * 9 + [600_000])
    assert hit is not None and hit[0] == 11


def test_candles_closing_together_are_one_observation():
    mon = LiquidityWatch(LiquidityConfig())
    pos = long()
    values = {"pool.liquidity_usd": 1_000_000.0}
    for tf in (1, 5, 15):
        assert mon.on_candle(pos, minute(15, tf_min=tf), values, None) is None
    assert mon.reference(KEY) == 1_000_000


def test_unknown_liquidity_is_neither_a_trigger_nor_a_reference():
    mon = LiquidityWatch(LiquidityConfig())
    hit = run(mon, [math.nan, 1_000_000, math.nan, 690_000])
    assert hit is not None and hit[0] == 4


def test_a_short_exits_too_and_a_new_position_starts_afresh():
    mon = LiquidityWatch(LiquidityConfig())
    short = Position(
        instrument=KEY, quantity=Decimal(-1000), avg_price=Decimal("0.5"), opened_ts_ns=T0
    )
    assert run(mon, [1_000_000, 800_000], position=short) is None
    # Flat and re-entered later without forget(): the old peak does not carry over.
    again = long(opened=T0 + 5 * MIN)
    assert run(mon, [700_000, 650_000], position=again, start=6) is None
    assert mon.reference(KEY) == 700_000


def test_a_misnamed_value_fails_fast_naming_what_the_analyzers_report():
    mon = LiquidityWatch(LiquidityConfig(liquidity_value="pool.liquidity"))
    with pytest.raises(ConfigError, match=r"reports: pool.liquidity_usd"):
        mon.on_candle(long(), minute(1), {"pool.liquidity_usd": 1.0}, None)


def test_the_value_name_must_be_instance_dot_output():
    from tradewind._serde import structure

    with pytest.raises(ConfigError, match=r"<analyzer instance>\.<output>"):
        structure({"liquidity_value": "liquidity_usd"}, LiquidityConfig)


class TestConformance(ExitConformance):
    plugin_class = LiquidityWatch
    #: The scan answers the first close with a known value (on_candle folds it in there).
    scan_exact = False

    def scan_columns(self, closes, rng):
        values = 1_000_000 * np.exp(np.cumsum(rng.normal(0, 0.08, closes)))
        values[rng.random(closes) < 0.3] = np.nan
        values[: int(rng.integers(0, closes + 1))] = np.nan  # the pool reports late, or never
        return {"pool.liquidity_usd": values}


def test_the_scan_walks_the_closes_without_a_value_and_stops_at_the_first_known():
    from tradewind.testing.data import tick_path
    from tradewind.testing.exit_scan import hold_window

    mon = LiquidityWatch(LiquidityConfig())
    ticks = tick_path(KEY, minutes=10, seed=3)
    window = hold_window(ticks)
    column = np.full(len(window), np.nan)
    pos = Position(instrument=KEY, quantity=Decimal("1"), avg_price=Decimal("50000"))
    assert mon.scan(pos, hold_window(ticks, {"pool.liquidity_usd": column}), None) is None
    column[6] = 1e6
    assert mon.scan(pos, hold_window(ticks, {"pool.liquidity_usd": column}), None) == 6
    # A value no table hands over ahead: the engine steps from the first close.
    assert mon.scan(pos, window, None) == 0
