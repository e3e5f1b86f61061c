"""Candle shape measures on hand-built candles, and their bounds on generated ones."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from micro_data import candle
from tradewind_analyzer_microstructure.shape import candle_shape


def test_hammer_at_support_is_a_bullish_rejection() -> None:
    # open 100.5, close 100.9, high 101, low 98: range 3, body 0.4, lower wick 2.5, upper 0.1
    s = candle_shape(candle(0, 100.5, 101.0, 98.0, 100.9))
    assert s.lower_wick == pytest.approx(2.5 / 3)
    assert s.upper_wick == pytest.approx(0.1 / 3)
    assert s.body == pytest.approx(0.4 / 3)
    assert s.close_position == pytest.approx(2.9 / 3)
    assert s.bounce_long == pytest.approx(0.5 * 2.5 / 3 + 0.5 * 2.9 / 3)  # 0.9
    assert s.bounce_short == pytest.approx(0.5 * 0.1 / 3 + 0.5 * 0.1 / 3)
    assert s.rejection == 1.0


def test_shooting_star_is_a_bearish_rejection() -> None:
    s = candle_shape(candle(0, 100.4, 103.0, 100.0, 100.1))
    assert s.upper_wick == pytest.approx(2.6 / 3)
    assert s.close_position == pytest.approx(0.1 / 3)
    assert s.bounce_short == pytest.approx(0.5 * 2.6 / 3 + 0.5 * 2.9 / 3)
    assert s.rejection == -1.0


@pytest.mark.parametrize(
    ("o", "h", "lo", "c", "why"),
    [
        (100.9, 101.0, 98.0, 100.5, "long lower wick but closed down"),
        (99.0, 101.0, 98.0, 100.9, "closed up near the high but the body is too big"),
        (99.5, 101.0, 98.0, 99.9, "lower wick > 2 x body but the close is mid-range"),
    ],
)
def test_not_a_rejection(o: float, h: float, lo: float, c: float, why: str) -> None:
    assert candle_shape(candle(0, o, h, lo, c)).rejection == 0.0, why


def test_a_candle_with_no_range_is_neutral() -> None:
    s = candle_shape(candle(0, 100.0, 100.0, 100.0, 100.0))
    assert (s.lower_wick, s.upper_wick, s.body, s.close_position) == (0.0, 0.0, 0.0, 0.5)
    assert (s.bounce_long, s.bounce_short, s.rejection) == (0.25, 0.25, 0.0)


def test_wick_weight_moves_the_bounce_between_wick_and_close() -> None:
    c = candle(0, 100.5, 101.0, 98.0, 100.9)
    assert candle_shape(c, wick_weight=1.0).bounce_long == pytest.approx(2.5 / 3)
    assert candle_shape(c, wick_weight=0.0).bounce_long == pytest.approx(2.9 / 3)


prices = st.floats(1.0, 1e6, allow_nan=False, allow_infinity=False)


@given(a=prices, b=prices, c=prices, d=prices, w=st.floats(0.0, 1.0))
def test_measures_are_fractions_and_bounces_lie_in_the_unit_interval(
    a: float, b: float, c: float, d: float, w: float
) -> None:
    lo, o, cl, h = sorted([a, b, c, d])[0], b, c, sorted([a, b, c, d])[-1]
    s = candle_shape(candle(0, o, h, lo, cl), wick_weight=w)
    for v in (s.lower_wick, s.upper_wick, s.body, s.close_position):
        assert 0.0 <= v <= 1.0
    assert 0.0 <= s.bounce_long <= 1.0 + 1e-12
    assert 0.0 <= s.bounce_short <= 1.0 + 1e-12
    if h > lo:
        assert s.lower_wick + s.upper_wick + s.body == pytest.approx(1.0)
        assert s.lower_wick <= s.close_position + 1e-12
