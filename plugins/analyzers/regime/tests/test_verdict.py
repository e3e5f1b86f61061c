"""The seed's regime rule, one condition at a time."""

import math

import pytest

from tradewind_analyzer_regime import RegimeConfig
from tradewind_analyzer_regime.verdict import alignment, regime

CFG = RegimeConfig()
UP = dict(adx=30.0, hurst=0.6, mean_reversion=0.3, ema_alignment=1.0, atr_pct=0.4, structure=1.0)
DOWN = dict(UP, ema_alignment=-1.0, structure=-1.0)


def test_all_conditions_up_and_down():
    assert regime(CFG, **UP) == 1.0
    assert regime(CFG, **DOWN) == -1.0


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (dict(adx=25.0), "ADX must be strictly above 25"),
        (dict(adx=22.0), "between ranging and trending is not trending"),
        (dict(hurst=0.55), "persistence must be strictly above 0.55"),
        (dict(mean_reversion=0.6), "mean reversion must be strictly below 0.6"),
        (dict(atr_pct=0.099), "ATR below 0.1 % of price"),
        (dict(ema_alignment=0.0), "EMAs not aligned"),
        (dict(structure=0.0), "no higher highs and higher lows"),
        (dict(structure=-1.0), "structure against the EMAs"),
    ],
)
def test_one_failing_condition_is_not_trending(change, why):
    assert regime(CFG, **dict(UP, **change)) == 0.0, why


def test_adx_below_20_is_ranging_even_while_other_inputs_warm_up():
    assert regime(CFG, **dict(UP, adx=19.9, hurst=math.nan, mean_reversion=math.nan)) == 0.0


def test_undefined_inputs_give_no_verdict():
    assert math.isnan(regime(CFG, **dict(UP, adx=math.nan)))
    assert math.isnan(regime(CFG, **dict(UP, hurst=math.nan)))


def test_thresholds_come_from_config():
    strict = RegimeConfig(adx_trending=35.0, adx_ranging=31.0)
    assert regime(strict, **UP) == 0.0
    assert regime(RegimeConfig(min_atr_pct=0.5), **UP) == 0.0


def test_ema_alignment():
    assert alignment(105.0, 104.0, 103.0) == 1.0
    assert alignment(102.0, 104.0, 103.0) == 0.0
    assert alignment(101.0, 102.0, 103.0) == -1.0
    assert math.isnan(alignment(101.0, 102.0, math.nan))
