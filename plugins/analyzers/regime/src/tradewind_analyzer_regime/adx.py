"""Wilder's directional movement: +DI, -DI and ADX, streaming, with TA-Lib's seeding.

Per bar after the first: ``up = high - prev_high``, ``down = prev_low - low``; +DM1 = up when
``up > 0 and up > down``, -DM1 = down when ``down > 0 and down > up`` (else 0), and the true
range TR1. TA-Lib's seeding, reproduced operation for operation (so the values equal
``talib.ADX``, ``talib.PLUS_DI`` and ``talib.MINUS_DI`` bit for bit):

* bars 1 .. period-1: +DM, -DM and TR are plain sums (period - 1 terms);
* from bar ``period`` on, Wilder's smoothing ``s = s - s / period + x`` for each of the three,
  and ``+DI = 100 * +DM / TR``, ``-DI = 100 * -DM / TR`` (0 when TR is 0), first at bar
  ``period``;
* ``DX = 100 * |+DI - -DI| / (+DI + -DI)`` from bar ``period``; the first ADX, at bar
  ``2 * period - 1``, is the mean of the ``period`` DX values of bars period .. 2*period-1;
* after it ``adx = (adx * (period - 1) + dx) / period``. A bar whose TR or DI sum is zero
  leaves ADX unchanged (TA-Lib skips it).

O(1) per update.
"""

from __future__ import annotations

import math

from tradewind_analyzer_regime.true_range import true_range

NAN = math.nan


class Adx:
    """ADX with its +DI and -DI; each is NaN until its first bar (see the module doc)."""

    __slots__ = (
        "_bars",
        "_minus_dm",
        "_plus_dm",
        "_prev_close",
        "_prev_high",
        "_prev_low",
        "_sum_dx",
        "_tr",
        "minus_di",
        "period",
        "plus_di",
        "value",
    )

    def __init__(self, period: int) -> None:
        if period < 2:
            raise ValueError(f"ADX period must be at least 2, got {period}")
        self.period = period
        self._bars = 0
        self._prev_high = NAN
        self._prev_low = NAN
        self._prev_close = NAN
        self._plus_dm = 0.0
        self._minus_dm = 0.0
        self._tr = 0.0
        self._sum_dx = 0.0
        #: The current ADX in [0, 100]; NaN until ``2 * period`` bars were seen.
        self.value = NAN
        #: The current +DI in [0, 100]; NaN until ``period + 1`` bars were seen.
        self.plus_di = NAN
        #: The current -DI in [0, 100]; NaN until ``period + 1`` bars were seen.
        self.minus_di = NAN

    def update(self, high: float, low: float, close: float) -> float:
        """Fold in one bar; return the ADX after it."""
        bar = self._bars
        self._bars = bar + 1
        if bar == 0:
            self._prev_high, self._prev_low, self._prev_close = high, low, close
            return self.value
        period = self.period
        up = high - self._prev_high
        down = self._prev_low - low
        tr = true_range(high, low, self._prev_close)
        self._prev_high, self._prev_low, self._prev_close = high, low, close
        if bar < period:
            if down > 0 and up < down:
                self._minus_dm += down
            elif up > 0 and up > down:
                self._plus_dm += up
            self._tr += tr
            return self.value
        self._minus_dm -= self._minus_dm / period
        self._plus_dm -= self._plus_dm / period
        if down > 0 and up < down:
            self._minus_dm += down
        elif up > 0 and up > down:
            self._plus_dm += up
        self._tr = self._tr - (self._tr / period) + tr
        smoothed_tr = self._tr
        if smoothed_tr != 0.0:
            minus_di = 100.0 * (self._minus_dm / smoothed_tr)
            plus_di = 100.0 * (self._plus_dm / smoothed_tr)
        else:
            minus_di = plus_di = 0.0
        self.minus_di, self.plus_di = minus_di, plus_di
        di_sum = minus_di + plus_di
        valid = smoothed_tr != 0.0 and di_sum != 0.0
        if bar < 2 * period - 1:
            if valid:
                self._sum_dx += 100.0 * (abs(minus_di - plus_di) / di_sum)
        elif bar == 2 * period - 1:
            if valid:
                self._sum_dx += 100.0 * (abs(minus_di - plus_di) / di_sum)
            self.value = self._sum_dx / period
        elif valid:
            dx = 100.0 * (abs(minus_di - plus_di) / di_sum)
            self.value = (self.value * (period - 1) + dx) / period
        return self.value
