"""The analyzer fed a long 1m session (with other timeframes interleaved) equals numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from tradewind._serde import structure
from tradewind.errors import ConfigError

from micro_data import btcusdt, candle, candles_from_closes, numpy_lag1, random_closes
from tradewind_analyzer_microstructure import MicrostructureAnalyzer, MicrostructureConfig
from tradewind_analyzer_microstructure.plugin import VALUE_KEYS


def test_values_before_data_are_nan_with_every_key() -> None:
    v = MicrostructureAnalyzer(config=MicrostructureConfig(), instrument=btcusdt()).values()
    assert tuple(v) == VALUE_KEYS and all(math.isnan(x) for x in v.values())


def test_long_session_matches_numpy_at_every_candle() -> None:
    n = 30_000
    closes = random_closes(n, seed=42)
    volumes = np.random.default_rng(3).lognormal(1.0, 1.0, n)
    cfg = MicrostructureConfig()
    a = MicrostructureAnalyzer(config=cfg, instrument=btcusdt())
    got: dict[str, list[float]] = {k: [] for k in ("zscore", "autocorr", "volume_spike")}
    for i, c in enumerate(candles_from_closes(closes, volumes)):
        a.on_candle(c)
        if i % 5 == 4:  # a 5m candle closing at the same time must change nothing
            before = list(a.values().values())
            a.on_candle(candle(i // 5, 1.0, 2.0, 0.5, 1.5, 1e9, tf_min=5))
            after = list(a.values().values())
            assert np.array_equal(np.array(before), np.array(after), equal_nan=True)
        v = a.values()
        for k in got:
            got[k].append(v[k])

    # z-score: the close against the 15 closes ending with it (population std); 0 if flat.
    win = sliding_window_view(closes, 15)
    flat = win.max(axis=1) == win.min(axis=1)
    std = np.where(flat, 1.0, win.std(axis=1))
    z = np.where(flat, 0.0, (closes[14:] - win.mean(axis=1)) / std)
    assert all(math.isnan(x) for x in got["zscore"][:14])
    np.testing.assert_allclose(got["zscore"][14:], z, rtol=0, atol=1e-9)

    # Autocorrelation of the last 10 log returns (11 closes).
    r = numpy_lag1(sliding_window_view(np.diff(np.log(closes)), 10))
    ac = np.array(got["autocorr"][10:])
    assert all(math.isnan(x) for x in got["autocorr"][:10])
    assert np.array_equal(np.isnan(ac), np.isnan(r))
    np.testing.assert_allclose(ac[~np.isnan(r)], r[~np.isnan(r)], rtol=0, atol=1e-9)

    # Volume spike: this candle's volume over the mean of the 20 before it.
    prev_mean = sliding_window_view(volumes, 20).mean(axis=1)[:-1]
    assert all(math.isnan(x) for x in got["volume_spike"][:20])
    np.testing.assert_allclose(got["volume_spike"][20:], volumes[20:] / prev_mean, rtol=1e-12)


def test_a_spike_candle_bouncing_off_the_low() -> None:
    a = MicrostructureAnalyzer(config=MicrostructureConfig(volume_period=3), instrument=btcusdt())
    for i in range(3):
        a.on_candle(candle(i, 100.0, 100.5, 99.5, 100.0, v=10))
    a.on_candle(candle(3, 100.0, 100.4, 98.0, 100.3, v=25))
    v = a.values()
    assert v["volume_mean"] == 10.0 and v["volume_spike"] == 2.5
    assert v["lower_wick"] == pytest.approx(2.0 / 2.4)
    assert v["close_position"] == pytest.approx(2.3 / 2.4)
    assert v["bounce_long"] == pytest.approx(0.5 * 2.0 / 2.4 + 0.5 * 2.3 / 2.4)
    assert v["rejection"] == 1.0


def test_flat_market_has_zero_zscore_and_no_autocorrelation() -> None:
    a = MicrostructureAnalyzer(config=MicrostructureConfig(), instrument=btcusdt())
    for i in range(40):
        a.on_candle(candle(i, 100.0, 100.0, 100.0, 100.0))
    v = a.values()
    assert (v["zscore"], v["close_mean"], v["close_std"]) == (0.0, 100.0, 0.0)
    assert math.isnan(v["autocorr"])
    assert v["volume_spike"] == 1.0


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"timeframe": "2x"}, "timeframe: '2x' is not a timeframe"),
        ({"autocorr_window": 2}, "autocorr_window must be >= 3"),
        ({"bounce_wick_weight": 1.5}, r"bounce_wick_weight must be in \[0, 1\]"),
    ],
)
def test_bad_options_are_refused_with_their_name(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        structure(table, MicrostructureConfig, path="$.analyzers.micro")
