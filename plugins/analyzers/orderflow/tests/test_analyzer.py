"""The analyzer end to end: scripted candles in close order, exact values out."""

import math

import pytest
from orderflow_candles import T0, closing_together, flow_candle
from tradewind._serde import structure
from tradewind.errors import ConfigError
from tradewind.testing import default_instrument

from tradewind_analyzer_orderflow import OrderFlowAnalyzer, OrderFlowConfig

M = 60 * 10**9


def build(**options):
    return OrderFlowAnalyzer(config=OrderFlowConfig(**options), instrument=default_instrument())


def feed(analyzer, candles):
    for c in candles:
        analyzer.on_candle(c)
    return analyzer.values()


def test_keys_are_fixed_and_nan_before_any_candle():
    values = build().values()
    assert sorted(values) == sorted(
        [
            f"{m}_{tf}"
            for tf in ("1m", "5m", "15m")
            for m in ("imbalance", "delta", "avg_buy_size", "avg_sell_size")
        ]
        + ["cvd", "cascade", "cascade_reversal_long", "cascade_reversal_short"]
    )
    assert all(math.isnan(v) for v in values.values())


def test_seed_long_cascade_through_the_analyzer():
    values = feed(build(), closing_together(3.5, 2.8, 1.8))
    assert values["imbalance_1m"] == 3.5
    assert values["imbalance_5m"] == 2.8
    assert values["imbalance_15m"] == 1.8
    assert values["cascade"] == 1.0
    assert values["cascade_reversal_long"] == 0.0
    assert values["cascade_reversal_short"] == 1.0  # a short would exit into this buying


def test_seed_long_trade_holds_then_exits_on_the_reversal():
    # seed 2.6.1: enter on 3.5/2.8/1.8, hold on 3.2/2.7/1.9 and 2.8/2.5/1.8, exit on 0.4/0.6/0.9
    analyzer = build()
    path = [(3.5, 2.8, 1.8), (3.2, 2.7, 1.9), (2.8, 2.5, 1.8), (0.4, 0.6, 0.9)]
    seen = []
    for window, imbs in enumerate(path):
        values = feed(analyzer, closing_together(*imbs, window=window))
        seen.append((values["cascade"], values["cascade_reversal_long"]))
    assert seen == [(1.0, 0.0), (1.0, 0.0), (1.0, 0.0), (-1.0, 1.0)]
    assert (values["imbalance_1m"], values["imbalance_5m"], values["imbalance_15m"]) == (
        0.4,
        0.6,
        0.9,
    )


def test_mirrored_short_cascade_through_the_analyzer():
    values = feed(build(), closing_together(0.3, 0.45, 0.8))
    assert values["cascade"] == -1.0
    assert values["cascade_reversal_long"] == 1.0
    assert values["cascade_reversal_short"] == 0.0


def test_cascade_is_nan_until_every_timeframe_closed_once():
    analyzer = build()
    values = feed(analyzer, closing_together(3.5, 2.8, 1.8)[:2])
    assert values["imbalance_1m"] == 3.5
    assert math.isnan(values["imbalance_15m"])
    assert math.isnan(values["cascade"])


def test_delta_and_average_trade_sizes_per_timeframe():
    values = feed(build(), [flow_candle("5m", T0, 3.0, 1.2, buy_trades=4, sell_trades=3)])
    assert values["delta_5m"] == pytest.approx(1.8, abs=1e-12)
    assert values["avg_buy_size_5m"] == 0.75
    assert values["avg_sell_size_5m"] == pytest.approx(0.4, abs=1e-12)
    assert math.isnan(values["delta_1m"])


def test_zero_sell_volume_reports_the_cap():
    values = feed(build(max_imbalance=50.0), [flow_candle("1m", T0, 2.0, 0.0, sell_trades=0)])
    assert values["imbalance_1m"] == 50.0
    assert math.isnan(values["avg_sell_size_1m"])


def test_cvd_sums_the_smallest_timeframe_only():
    analyzer = build()
    feed(analyzer, [flow_candle("1m", T0 + i * M, 2.0 + i, 1.0) for i in range(5)])
    # deltas 1, 2, 3, 4, 5; the 5m candle repeats the same trades and must not add again
    values = feed(analyzer, [flow_candle("5m", T0, 20.0, 5.0)])
    assert values["cvd"] == 15.0
    assert values["delta_5m"] == 15.0


def test_cvd_resets_at_each_utc_day_when_configured():
    analyzer = build(cvd_reset="1d")
    day = 86_400 * 10**9
    last_of_day = T0 - (T0 % day) + day - M
    feed(
        analyzer,
        [flow_candle("1m", last_of_day - M, 5.0, 1.0), flow_candle("1m", last_of_day, 3.0, 1.0)],
    )
    assert analyzer.values()["cvd"] == 6.0
    values = feed(analyzer, [flow_candle("1m", last_of_day + M, 1.0, 4.0)])
    assert values["cvd"] == -3.0


def test_timeframes_not_configured_are_ignored():
    analyzer = build(timeframes=["15m", "1m"])
    values = feed(
        analyzer,
        [
            flow_candle("5m", T0, 50.0, 1.0),
            flow_candle("1m", T0, 25.0, 10.0),
            flow_candle("15m", T0, 12.0, 10.0),
        ],
    )
    assert "imbalance_5m" not in values
    assert values["cascade"] == 1.0  # 2.5 > 1.2 over the two configured timeframes


def test_config_from_toml_table_and_its_errors():
    cfg = structure({"timeframes": ["1m", "1h"], "cascade_long_min": 3}, OrderFlowConfig)
    assert cfg.timeframes == ("1m", "1h") and cfg.cascade_long_min == 3.0
    with pytest.raises(ConfigError, match=r"timeframes: '7x' is not a timeframe.*@ \$"):
        structure({"timeframes": ["1m", "7x"]}, OrderFlowConfig)
    with pytest.raises(ConfigError, match="twice"):
        structure({"timeframes": ["1m", "60s"]}, OrderFlowConfig)
    with pytest.raises(ConfigError, match="max_imbalance must be positive"):
        structure({"max_imbalance": 0}, OrderFlowConfig)
    with pytest.raises(ConfigError, match="never pass"):
        structure({"max_imbalance": 2.0}, OrderFlowConfig)
