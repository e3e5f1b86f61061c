"""Exponential moving average, streaming, with TA-Lib's seeding.

TA-Lib (default compatibility, no unstable period) leaves the first ``period - 1`` bars
undefined, seeds bar ``period - 1`` with the simple mean of the first ``period`` inputs, then
applies ``ema = (x - ema) * k + ema`` with ``k = 2 / (period + 1)``. This class performs the
same floating-point operations in the same order, so its values equal ``talib.EMA`` bit for
bit. O(1) per update.
"""

from __future__ import annotations

import math


class Ema:
    """EMA of a stream of values; :attr:`value` is NaN for the first ``period - 1`` inputs."""

    __slots__ = ("_count", "_k", "_sum", "period", "value")

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError(f"EMA period must be at least 1, got {period}")
        self.period = period
        self._k = 2.0 / float(period + 1)
        self._count = 0
        self._sum = 0.0
        #: The current EMA; NaN until ``period`` inputs were seen.
        self.value = math.nan

    def update(self, x: float) -> float:
        """Fold in one input; return the EMA after it."""
        if self._count < self.period:
            self._count += 1
            self._sum += x
            if self._count == self.period:
                self.value = self._sum / self.period
            return self.value
        self.value = (x - self.value) * self._k + self.value
        return self.value
