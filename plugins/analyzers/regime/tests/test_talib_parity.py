"""ADX, +DI, -DI, ATR, EMA and RSI equal TA-Lib's, bar by bar, to 1e-9.

Two series: 1-minute candles built from the recorded Binance sample (126 candles) and 100,000
candles of a seeded random walk. Every indicator is read from the analyzer after each candle,
the way the engine reads it, and compared with the TA-Lib function over the whole array: NaN
exactly where TA-Lib has no value yet, and within 1e-9 from the first TA-Lib value on.

With the ta-lib 0.8 wheel on x86-64, ADX, +DI, -DI, RSI and ATR come out bit for bit equal; EMA
too on a CPU without FMA, while TA-Lib's FMA build of EMA fuses its multiply-add and differs
in the last bit now and then. The assertion is the 1e-9 the design asks for, since how a
TA-Lib build rounds depends on its compiler and target.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import numpy as np
import pytest
import talib  # the oracle (a test dependency of this plugin): a missing one fails, never skips
from regime_data import ohlc, random_walk_candles, sample_candles
from tradewind.testing import default_instrument

from tradewind_analyzer_regime import Adx, Atr, Ema, RegimeAnalyzer, RegimeConfig, Rsi

TOLERANCE = 1e-9


@cache
def series(name: str) -> tuple:
    """(config, candles) of a named series."""
    if name == "binance-1m":
        return RegimeConfig(timeframe="1m"), sample_candles("1m")
    return RegimeConfig(timeframe="15m"), random_walk_candles(100_000, seed=20200222)


@cache
def streamed(name: str) -> dict[str, np.ndarray]:
    """Each output of the analyzer after each candle of the series."""
    cfg, candles = series(name)
    analyzer = RegimeAnalyzer(config=cfg, instrument=default_instrument())
    rows = []
    for candle in candles:
        analyzer.on_candle(candle)
        rows.append(analyzer.values())
    return {key: np.array([row[key] for row in rows]) for key in rows[0]}


def oracle(name: str, key: str) -> np.ndarray:
    cfg, candles = series(name)
    high, low, close = ohlc(candles)
    return {
        "adx": lambda: talib.ADX(high, low, close, timeperiod=cfg.adx_period),
        "plus_di": lambda: talib.PLUS_DI(high, low, close, timeperiod=cfg.adx_period),
        "minus_di": lambda: talib.MINUS_DI(high, low, close, timeperiod=cfg.adx_period),
        "atr": lambda: talib.ATR(high, low, close, timeperiod=cfg.atr_period),
        "ema_fast": lambda: talib.EMA(close, timeperiod=cfg.ema_fast),
        "ema_slow": lambda: talib.EMA(close, timeperiod=cfg.ema_slow),
        "rsi": lambda: talib.RSI(close, timeperiod=cfg.rsi_period),
    }[key]()


def assert_matches(ours: np.ndarray, theirs: np.ndarray) -> None:
    undefined = np.isnan(theirs)
    first = int(np.argmin(undefined))
    assert not undefined.all(), "TA-Lib produced no value: the series is too short"
    np.testing.assert_array_equal(np.isnan(ours), undefined, err_msg="NaN pattern differs")
    worst = int(np.argmax(np.abs(ours[first:] - theirs[first:]))) + first
    assert abs(ours[worst] - theirs[worst]) <= TOLERANCE, (
        f"bar {worst}: ours {ours[worst]!r}, TA-Lib {theirs[worst]!r}"
    )


KEYS = ["adx", "plus_di", "minus_di", "atr", "ema_fast", "ema_slow", "rsi"]


@pytest.mark.parametrize("key", KEYS)
def test_recorded_binance_1m_candles(key):
    _, candles = series("binance-1m")
    assert len(candles) == 126
    assert_matches(streamed("binance-1m")[key], oracle("binance-1m", key))


@pytest.mark.parametrize("key", KEYS)
def test_100k_random_walk_candles(key):
    assert_matches(streamed("random-walk")[key], oracle("random-walk", key))


def test_first_values_appear_where_talib_seeds_them():
    # ATR and RSI after period+1 bars, ADX after 2*period, EMA after period (0-based index).
    values = streamed("binance-1m")
    first = {key: int(np.argmin(np.isnan(values[key]))) for key in KEYS}
    assert first == {
        "adx": 27,
        "plus_di": 14,
        "minus_di": 14,
        "atr": 14,
        "ema_fast": 19,
        "ema_slow": 49,
        "rsi": 14,
    }


@pytest.mark.parametrize("period", [2, 5, 30])
def test_other_periods(period):
    candles = random_walk_candles(3_000, seed=period)
    high, low, close = ohlc(candles)
    pairs: list[tuple[Any, str, np.ndarray]] = [
        (Adx(period), "hlc", talib.ADX(high, low, close, timeperiod=period)),
        (Atr(period), "hlc", talib.ATR(high, low, close, timeperiod=period)),
        (Rsi(period), "c", talib.RSI(close, timeperiod=period)),
        (Ema(period), "c", talib.EMA(close, timeperiod=period)),
    ]
    for indicator, inputs, theirs in pairs:
        ours = np.array(
            [
                indicator.update(h, lo, c) if inputs == "hlc" else indicator.update(c)
                for h, lo, c in zip(high, low, close, strict=True)
            ]
        )
        assert_matches(ours, theirs)


def test_flat_prices_follow_talib_conventions():
    # No movement at all: TA-Lib reports ADX 0, DI 0, ATR 0, RSI 0 (not 50), EMA the price.
    close = np.full(60, 100.0)
    adx, atr, rsi = Adx(14), Atr(14), Rsi(14)
    for c in close:
        adx.update(c, c, c)
        atr.update(c, c, c)
        rsi.update(c)
    assert (adx.value, adx.plus_di, atr.value, rsi.value) == (0.0, 0.0, 0.0, 0.0)
    assert talib.ADX(close, close, close)[-1] == 0.0 and talib.RSI(close)[-1] == 0.0
    assert math.isfinite(talib.ATR(close, close, close)[-1])
