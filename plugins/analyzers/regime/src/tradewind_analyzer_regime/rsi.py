"""Wilder's relative strength index, streaming, with TA-Lib's seeding.

The first RSI, at bar ``period``, uses the plain means of the gains and of the losses of the
first ``period`` close-to-close changes; after it each mean is smoothed as
``avg = (avg * (period - 1) + today) / period``. RSI = 100 * avg_gain / (avg_gain + avg_loss),
and 0.0 when both are zero (a flat series), as TA-Lib returns.

The operations and their order are TA-Lib 0.8's, which divides by ``period`` as a multiply by
``1 / period`` and tests the zero exactly (0.4 used a 1e-8 band); the values equal
``talib.RSI`` bit for bit. O(1) per update.
"""

from __future__ import annotations

import math


class Rsi:
    """RSI of a stream of closes; :attr:`value` is NaN for the first ``period`` closes."""

    __slots__ = ("_count", "_gain", "_inv", "_loss", "_prev", "period", "value")

    def __init__(self, period: int) -> None:
        if period < 2:
            raise ValueError(f"RSI period must be at least 2, got {period}")
        self.period = period
        self._inv = 1.0 / float(period)
        self._prev = math.nan
        self._count = 0  # changes seen
        self._gain = 0.0
        self._loss = 0.0
        #: The current RSI in [0, 100]; NaN until ``period + 1`` closes were seen.
        self.value = math.nan

    def update(self, close: float) -> float:
        """Fold in one close; return the RSI after it."""
        prev = self._prev
        self._prev = close
        if prev != prev:  # first close: no change yet
            return self.value
        change = close - prev
        period = self.period
        if self._count < period:
            self._count += 1
            if change < 0.0:
                self._loss -= change
            else:
                self._gain += change
            if self._count < period:
                return self.value
            self._loss *= self._inv
            self._gain *= self._inv
        else:
            loss = self._loss * (period - 1)
            gain = self._gain * (period - 1)
            if change < 0.0:
                loss -= change
            else:
                gain += change
            self._loss = loss * self._inv
            self._gain = gain * self._inv
        total = self._gain + self._loss
        self.value = 100.0 * (self._gain / total) if total != 0.0 else 0.0
        return self.value
