"""Cumulative volume delta (CVD), accumulated from one timeframe's candles.

The analyzer feeds it the candles of its smallest timeframe only: every candle of a larger
timeframe re-counts trades a smaller one already counted, so summing across timeframes would
count each trade several times.
"""

from __future__ import annotations

import math


class CumulativeDelta:
    """Running sum of per-candle volume delta, optionally reset at period boundaries.

    With ``reset_ns`` set (e.g. one UTC day), the sum restarts at the first candle that opens
    in a new period ``open_ts_ns // reset_ns``. O(1) per candle.
    """

    __slots__ = ("_period", "reset_ns", "value")

    def __init__(self, reset_ns: int | None = None) -> None:
        self.reset_ns = reset_ns
        #: The current CVD; NaN before the first candle.
        self.value: float = math.nan
        self._period: int | None = None

    def update(self, open_ts_ns: int, delta: float) -> float:
        """Add one candle's delta (the candle opened at ``open_ts_ns``); return the new CVD."""
        if self.reset_ns is not None:
            period = open_ts_ns // self.reset_ns
            if period != self._period:
                self._period = period
                self.value = 0.0
        if math.isnan(self.value):
            self.value = 0.0
        self.value += delta
        return self.value
