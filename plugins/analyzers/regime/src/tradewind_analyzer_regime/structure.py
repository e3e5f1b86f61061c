"""Price structure: higher highs and higher lows (or lower lows and lower highs) in a row.

Over the last ``candles`` candles (3 in the seed): +1.0 when every high and every low is
strictly above the one before, -1.0 when every high and every low is strictly below the one
before, 0.0 otherwise; NaN until ``candles`` candles were seen. O(candles) per update.
"""

from __future__ import annotations

import math
from collections import deque
from itertools import pairwise


class Structure:
    """HH/HL (+1) or LL/LH (-1) over the last ``candles`` candles."""

    __slots__ = ("_highs", "_lows", "candles", "value")

    def __init__(self, candles: int = 3) -> None:
        if candles < 2:
            raise ValueError(f"structure needs at least 2 candles, got {candles}")
        self.candles = candles
        self._highs: deque[float] = deque(maxlen=candles)
        self._lows: deque[float] = deque(maxlen=candles)
        #: +1.0, -1.0 or 0.0; NaN until ``candles`` candles were seen.
        self.value = math.nan

    def update(self, high: float, low: float) -> float:
        """Fold in one candle; return the structure after it."""
        self._highs.append(high)
        self._lows.append(low)
        if len(self._highs) < self.candles:
            return self.value
        highs = list(pairwise(self._highs))
        lows = list(pairwise(self._lows))
        if all(b > a for a, b in highs) and all(b > a for a, b in lows):
            self.value = 1.0
        elif all(b < a for a, b in highs) and all(b < a for a, b in lows):
            self.value = -1.0
        else:
            self.value = 0.0
        return self.value
