"""The cascade and its reversal, on the seed's numbers (sections 2.3.3 and 2.6.1)."""

import math

import pytest

from tradewind_analyzer_orderflow.cascade import cascade, reversal_long, reversal_short


def seed_cascade(imbs):
    return cascade(imbs, long_min=2.0, short_max=0.5)


def test_seed_long_cascade_3_5_over_2_8_over_1_8():
    assert seed_cascade([3.5, 2.8, 1.8]) == 1.0


def test_seed_hold_states_stay_long():
    # "+10 seconds: 3.2, 2.7, 1.9 → HOLD", "+20 seconds: 2.8, 2.5, 1.8 → HOLD"
    assert seed_cascade([3.2, 2.7, 1.9]) == 1.0
    assert reversal_long([3.2, 2.7, 1.9], fastest_max=0.5) == 0.0
    assert seed_cascade([2.8, 2.5, 1.8]) == 1.0
    assert reversal_long([2.8, 2.5, 1.8], fastest_max=0.5) == 0.0


def test_seed_long_reversal_0_4_under_0_6_under_0_9():
    assert reversal_long([0.4, 0.6, 0.9], fastest_max=0.5) == 1.0
    # the same numbers are a short cascade: selling accelerates at the small timeframes
    assert seed_cascade([0.4, 0.6, 0.9]) == -1.0
    assert reversal_short([0.4, 0.6, 0.9], fastest_min=2.0) == 0.0


def test_mirrored_short_cascade_and_short_reversal():
    assert seed_cascade([0.3, 0.45, 0.8]) == -1.0
    assert reversal_short([2.5, 1.6, 1.2], fastest_min=2.0) == 1.0
    assert reversal_long([2.5, 1.6, 1.2], fastest_max=0.5) == 0.0


@pytest.mark.parametrize(
    "imbs",
    [
        [1.9, 1.5, 1.2],  # ordered, but 1m not beyond 2:1
        [3.5, 1.8, 2.8],  # 1m strong, chain broken
        [3.5, 3.5, 1.8],  # ties are not acceleration
        [0.5, 0.6, 0.9],  # 0.5 is not strictly below 0.5
        [0.4, 0.9, 0.6],
    ],
)
def test_no_cascade(imbs):
    assert seed_cascade(imbs) == 0.0


def test_reversal_needs_the_threshold_as_well_as_the_order():
    assert reversal_long([0.6, 0.7, 0.9], fastest_max=0.5) == 0.0
    assert reversal_short([1.9, 1.5, 1.2], fastest_min=2.0) == 0.0


def test_undefined_until_every_timeframe_has_a_value():
    assert math.isnan(seed_cascade([3.5, 2.8, math.nan]))
    assert math.isnan(reversal_long([0.4, math.nan, 0.9], fastest_max=0.5))
    assert math.isnan(reversal_short([], fastest_min=2.0))
