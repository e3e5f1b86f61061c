"""Per-candle measures: the imbalance ratio and its edge cases, delta, trade sizes."""

import math

import pytest

from tradewind_analyzer_orderflow.imbalance import average_size, delta, imbalance


@pytest.mark.parametrize(
    ("buy", "sell", "expected"),
    [
        (35.0, 10.0, 3.5),  # the seed's 1m example
        (4.0, 10.0, 0.4),
        (0.0, 2.5, 0.0),  # only sellers: the ratio itself
        (1.5, 0.0, 100.0),  # only buyers: capped at max_imbalance
        (0.0, 0.0, 1.0),  # no trades: neutral
        (2_000.0, 1.0, 100.0),  # a ratio above the cap is capped
        (99.0, 1.0, 99.0),  # just below the cap is kept
    ],
)
def test_imbalance_is_buy_over_sell_with_explicit_edges(buy, sell, expected):
    assert imbalance(buy, sell, max_imbalance=100.0) == expected


def test_imbalance_cap_is_the_configured_one():
    assert imbalance(3.0, 0.0, max_imbalance=25.0) == 25.0
    assert imbalance(30.0, 1.0, max_imbalance=25.0) == 25.0


def test_delta_is_buy_minus_sell():
    assert delta(12.5, 20.0) == -7.5


def test_average_size_per_trade_and_nan_without_trades():
    assert average_size(1.5, 3) == 0.5
    assert math.isnan(average_size(0.0, 0))
