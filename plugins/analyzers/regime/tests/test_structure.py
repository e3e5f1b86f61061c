"""Higher highs and higher lows (or the mirror) over the last candles."""

import math

import pytest

from tradewind_analyzer_regime import Structure


def run(bars, candles=3):
    s = Structure(candles)
    return [s.update(high, low) for high, low in bars]


def test_higher_highs_and_higher_lows_is_up():
    values = run([(101, 99), (102, 100), (103, 101)])
    assert math.isnan(values[0]) and math.isnan(values[1])
    assert values[2] == 1.0


def test_lower_lows_and_lower_highs_is_down():
    assert run([(103, 101), (102, 100), (101, 99)])[-1] == -1.0


@pytest.mark.parametrize(
    "bars",
    [
        [(101, 99), (102, 100), (102, 101)],  # equal high: not higher
        [(101, 99), (102, 98), (103, 101)],  # a lower low in between
        [(101, 99), (103, 100), (102, 101)],  # high falls back
    ],
)
def test_anything_else_is_neither(bars):
    assert run(bars)[-1] == 0.0


def test_only_the_last_candles_count():
    bars = [(110, 90), (101, 99), (102, 100), (103, 101)]
    assert run(bars)[-1] == 1.0
    assert run(bars, candles=4)[-1] == 0.0
