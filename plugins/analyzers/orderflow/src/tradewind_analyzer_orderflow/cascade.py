"""The order-flow cascade across timeframes, and its reversal (the seed's exit signal).

Imbalances are passed fastest timeframe first (1m, 5m, 15m). A cascade means aggression is
accelerating at the small timeframes: buy pressure falling from 1m to 15m (3.5 > 2.8 > 1.8)
is buyers getting more aggressive now than they were over the longer window.
Each check costs O(number of timeframes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

NAN = math.nan


# Plain loops rather than all()/any() over generators: these run after every candle, and for
# three timeframes a loop costs a fifth of a generator expression.
def _falling(values: Sequence[float]) -> bool:
    for i in range(1, len(values)):
        if not values[i - 1] > values[i]:
            return False
    return True


def _rising(values: Sequence[float]) -> bool:
    for i in range(1, len(values)):
        if not values[i - 1] < values[i]:
            return False
    return True


def _undefined(values: Sequence[float]) -> bool:
    for v in values:
        if v != v:  # NaN
            return True
    return not values


def cascade(imbalances: Sequence[float], long_min: float, short_max: float) -> float:
    """+1.0 long cascade, -1.0 short cascade, 0.0 none; NaN while a timeframe has no candle.

    Long: ``imb[0] > imb[1] > ... > imb[-1]`` and ``imb[0] > long_min``.
    Short: ``imb[0] < imb[1] < ... < imb[-1]`` and ``imb[0] < short_max``.
    """
    if _undefined(imbalances):
        return NAN
    fastest = imbalances[0]
    if fastest > long_min and _falling(imbalances):
        return 1.0
    if fastest < short_max and _rising(imbalances):
        return -1.0
    return 0.0


def reversal_long(imbalances: Sequence[float], fastest_max: float) -> float:
    """1.0 when a long should exit: ``imb[0] < fastest_max`` and ``imb[0] < imb[1] < ...``.

    Selling accelerates towards the small timeframes (0.4 < 0.6 < 0.9). NaN while a timeframe
    has no candle, else 0.0.
    """
    if _undefined(imbalances):
        return NAN
    return 1.0 if imbalances[0] < fastest_max and _rising(imbalances) else 0.0


def reversal_short(imbalances: Sequence[float], fastest_min: float) -> float:
    """1.0 when a short should exit: ``imb[0] > fastest_min`` and ``imb[0] > imb[1] > ...``.

    The mirror of :func:`reversal_long`: buying accelerates towards the small timeframes.
    """
    if _undefined(imbalances):
        return NAN
    return 1.0 if imbalances[0] > fastest_min and _falling(imbalances) else 0.0
