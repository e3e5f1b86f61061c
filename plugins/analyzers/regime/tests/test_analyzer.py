"""The analyzer end to end on scripted price paths, and its config."""

from __future__ import annotations

import math

import numpy as np
import pytest
from regime_data import path_candles
from tradewind._serde import structure
from tradewind.blocks import BlockRow
from tradewind.errors import ConfigError
from tradewind.model import TickBatch
from tradewind.testing import default_instrument
from tradewind.timeframes import parse_timeframe

from tradewind_analyzer_regime import RegimeAnalyzer, RegimeConfig
from tradewind_analyzer_regime.kernel import RegimeKernel
from tradewind_analyzer_regime.plugin import KEYS

T = np.arange(150)


def run(closes, **options):
    analyzer = RegimeAnalyzer(config=RegimeConfig(**options), instrument=default_instrument())
    out = []
    for candle in path_candles(closes):
        analyzer.on_candle(candle)
        out.append(analyzer.values())
    return out


def regimes(out):
    return [v["regime"] for v in out]


def test_keys_are_fixed_and_nan_before_any_candle():
    values = RegimeAnalyzer(config=RegimeConfig(), instrument=default_instrument()).values()
    assert tuple(values) == KEYS
    assert all(math.isnan(v) for v in values.values())


def test_steady_uptrend_is_trending_up_once_every_window_is_full():
    # +0.2 % a candle: ADX 100, Hurst 1, no pull back, close > EMA20 > EMA50, HH/HL.
    out = run(50_000 * np.exp(0.002 * T))
    r = regimes(out)
    assert all(math.isnan(x) for x in r[:100])  # the mean-reversion window fills at candle 101
    assert r[100:] == [1.0] * 50
    last = out[-1]
    assert last["adx"] == 100.0 and last["minus_di"] == 0.0 and last["rsi"] == 100.0
    assert last["hurst"] == pytest.approx(1.0, abs=1e-9)
    assert last["mean_reversion"] == pytest.approx(0.0, abs=1e-9)
    assert (last["ema_alignment"], last["structure"]) == (1.0, 1.0)


def test_steady_downtrend_is_trending_down():
    out = run(50_000 * np.exp(-0.002 * T))
    assert regimes(out)[100:] == [-1.0] * 50
    assert out[-1]["plus_di"] == 0.0 and out[-1]["rsi"] == 0.0


def test_oscillating_price_is_ranging():
    # a 12-candle cycle of +-300: ADX ~14, Hurst ~0.38, strong pull back to the mean
    out = run(50_000 + 300 * np.sin(2 * np.pi * T / 12))
    assert regimes(out)[100:] == [0.0] * 50
    last = out[-1]
    assert last["adx"] < 20.0
    assert last["hurst"] < 0.55 and last["mean_reversion"] > 0.6


def test_uptrend_with_too_little_volatility_is_not_trending():
    out = run(50_000 * np.exp(0.002 * T), min_atr_pct=1.0)  # ATR is ~0.58 % of price
    assert regimes(out)[100:] == [0.0] * 50


def test_other_timeframes_are_ignored():
    analyzer = RegimeAnalyzer(config=RegimeConfig(timeframe="1h"), instrument=default_instrument())
    for candle in path_candles(50_000 * np.exp(0.002 * T)):  # 15m candles
        analyzer.on_candle(candle)
    assert all(math.isnan(v) for v in analyzer.values().values())


def test_config_from_a_toml_table_and_its_errors():
    cfg = structure({"timeframe": "1h", "adx_trending": 30, "hurst_window": 60}, RegimeConfig)
    assert (cfg.timeframe, cfg.adx_trending, cfg.hurst_window) == ("1h", 30.0, 60)
    with pytest.raises(ConfigError, match=r"timeframe: '15x' is not a timeframe"):
        structure({"timeframe": "15x"}, RegimeConfig)
    with pytest.raises(ConfigError, match=r"ema_fast \(50\) must be shorter than ema_slow"):
        structure({"ema_fast": 50, "ema_slow": 20}, RegimeConfig)
    with pytest.raises(ConfigError, match="hurst_max_lag <= hurst_window / 2"):
        structure({"hurst_window": 16}, RegimeConfig)
    with pytest.raises(ConfigError, match="adx_period must be at least 2"):
        structure({"adx_period": 1}, RegimeConfig)
    with pytest.raises(ConfigError, match="hurst_min must be between 0 and 1"):
        structure({"hurst_min": 1.5}, RegimeConfig)
    with pytest.raises(ConfigError, match="adx_ranging"):
        structure({"adx_ranging": 30}, RegimeConfig)


def test_values_are_a_new_dict_of_the_kernel_row_after_each_candle_and_before_a_block():
    """The outputs are read from the kernel's row when asked for (not copied at each candle):
    each read a new dict of the same bits, and a block's rows before its first candle of the
    timeframe repeat them."""
    cfg = RegimeConfig(timeframe="15m")
    closes = 50_000 * np.exp(np.cumsum(np.random.default_rng(3).normal(0, 2e-3, 200)))
    candles = path_candles(closes)
    analyzer = RegimeAnalyzer(config=cfg, instrument=default_instrument())
    kernel = RegimeKernel(cfg)
    for c in candles[:150]:
        analyzer.on_candle(c)
        kernel.step(c.high, c.low, c.close)
        got = analyzer.values()
        want = kernel.values(KEYS)
        assert list(got) == list(KEYS)
        assert [np.float64(v).tobytes() for v in got.values()] == [
            np.float64(v).tobytes() for v in want.values()
        ]
        assert all(v is math.nan for v in got.values() if v != v)
        got["regime"] = 12345.0  # a reader's copy: the analyzer's outputs do not move
        assert analyzer.values()["regime"] != 12345.0
    assert not math.isnan(analyzer.values()["regime"])
    before = analyzer.values()
    one = parse_timeframe("1m")
    rows = [BlockRow(close_ns=candles[150].open_ts_ns + one, tick_end=0, candles=())]
    rows += [BlockRow(close_ns=c.close_ts_ns, tick_end=0, candles=(c,)) for c in candles[150:]]
    empty = TickBatch.from_arrays(candles[0].instrument, [], [], [], [], [])
    table = analyzer.on_block(empty, rows)
    first = dict(next(iter(table)))
    assert [np.float64(first[k]).tobytes() for k in KEYS] == [
        np.float64(before[k]).tobytes() for k in KEYS
    ]
    for c in candles[150:]:
        kernel.step(c.high, c.low, c.close)
    after = analyzer.values()
    want = kernel.values(KEYS)
    assert [np.float64(after[k]).tobytes() for k in KEYS] == [
        np.float64(want[k]).tobytes() for k in KEYS
    ]
