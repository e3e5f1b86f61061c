"""True range and Wilder's average true range (ATR), streaming, with TA-Lib's seeding.

The true range of a bar needs the previous close, so the first bar has none (TA-Lib's
``TRANGE`` starts at index 1). The first ATR, at bar ``period``, is the simple mean of the
true ranges of bars 1..period (summed from 0.0 in input order, then divided). After it,
Wilder's smoothing ``atr = (atr * (period - 1) + tr) / period``, computed as TA-Lib 0.8 does:
``atr = fma(atr, a, tr * b)`` with ``a = (period - 1) / period`` and ``b = 1 - a``, the
multiply-add rounded once (C's ``fma()``, on every CPU). The values equal ``talib.ATR`` bit for
bit. O(1) per update (about 1 µs of it is the exact multiply-add on Python < 3.13).
"""

from __future__ import annotations

import math

from tradewind_analyzer_regime.fused import fma


def true_range(high: float, low: float, prev_close: float) -> float:
    """max(high - low, |high - prev_close|, |low - prev_close|)."""
    tr = high - low
    up = abs(prev_close - high)
    if up > tr:
        tr = up
    down = abs(prev_close - low)
    if down > tr:
        tr = down
    return tr


class Atr:
    """Wilder's ATR; :attr:`value` is NaN for the first ``period`` bars."""

    __slots__ = ("_a", "_b", "_count", "_prev_close", "_sum", "period", "value")

    def __init__(self, period: int) -> None:
        if period < 2:
            raise ValueError(f"ATR period must be at least 2, got {period}")
        self.period = period
        self._a = float(period - 1) / float(period)
        self._b = 1.0 - self._a
        self._prev_close = math.nan
        self._count = 0  # true ranges seen
        self._sum = 0.0
        #: The current ATR; NaN until ``period + 1`` bars were seen.
        self.value = math.nan

    def update(self, high: float, low: float, close: float) -> float:
        """Fold in one bar; return the ATR after it."""
        prev_close = self._prev_close
        self._prev_close = close
        if prev_close != prev_close:  # first bar: no previous close, no true range
            return self.value
        tr = true_range(high, low, prev_close)
        period = self.period
        if self._count < period:
            self._count += 1
            self._sum += tr
            if self._count == period:
                self.value = self._sum / period
            return self.value
        self.value = fma(self.value, self._a, tr * self._b)
        return self.value
