"""Per-candle order-flow measures: buy/sell imbalance, volume delta and average trade sizes.

Each is a pure function of one closed candle's aggressor split, so it costs O(1).
"""

from __future__ import annotations

import math

NAN = math.nan


def imbalance(buy_volume: float, sell_volume: float, max_imbalance: float) -> float:
    """Buy volume over sell volume, capped at ``max_imbalance``.

    The cases a plain division leaves open are decided here:

    * ``sell == 0`` and ``buy > 0``: ``max_imbalance`` (all aggression on the buy side);
    * ``sell == 0`` and ``buy == 0`` (a candle with no trades): ``1.0``, neutral, so an idle
      candle neither makes nor breaks a cascade;
    * ``buy == 0`` and ``sell > 0``: ``0.0``, the ratio itself;
    * any ratio above ``max_imbalance`` is capped to it.
    """
    if sell_volume > 0.0:
        ratio = buy_volume / sell_volume
        return ratio if ratio < max_imbalance else max_imbalance
    return max_imbalance if buy_volume > 0.0 else 1.0


def delta(buy_volume: float, sell_volume: float) -> float:
    """Volume delta: aggressive buy volume minus aggressive sell volume."""
    return buy_volume - sell_volume


def average_size(volume: float, trades: int) -> float:
    """Mean size of the trades behind ``volume``; NaN when there were no such trades."""
    return volume / trades if trades > 0 else NAN
