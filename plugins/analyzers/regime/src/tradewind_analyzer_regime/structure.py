"""Price structure: higher highs and higher lows (or lower lows and lower highs) in a row.

Over the last ``candles`` candles (3 in the seed): +1.0 when every high and every low is
strictly above the one before, -1.0 when every high and every low is strictly below the one
before, 0.0 otherwise; NaN until ``candles`` candles were seen.

Kept as two run lengths (how many candles in a row rose, how many fell, against the candle
before), so an update is O(1) whatever ``candles`` is.
"""

from __future__ import annotations

import math


class Structure:
    """HH/HL (+1) or LL/LH (-1) over the last ``candles`` candles."""

    __slots__ = ("_down_run", "_high", "_low", "_seen", "_up_run", "candles", "value")

    def __init__(self, candles: int = 3) -> None:
        if candles < 2:
            raise ValueError(f"structure needs at least 2 candles, got {candles}")
        self.candles = candles
        self._seen = 0
        self._high = math.nan
        self._low = math.nan
        self._up_run = 0  # candles in a row with a higher high and a higher low
        self._down_run = 0  # candles in a row with a lower high and a lower low
        #: +1.0, -1.0 or 0.0; NaN until ``candles`` candles were seen.
        self.value = math.nan

    def update(self, high: float, low: float) -> float:
        """Fold in one candle; return the structure after it."""
        self._up_run = self._up_run + 1 if high > self._high and low > self._low else 0
        self._down_run = self._down_run + 1 if high < self._high and low < self._low else 0
        self._high, self._low = high, low
        if self._seen < self.candles:
            self._seen += 1
            if self._seen < self.candles:
                return self.value
        need = self.candles - 1
        self.value = 1.0 if self._up_run >= need else -1.0 if self._down_run >= need else 0.0
        return self.value
