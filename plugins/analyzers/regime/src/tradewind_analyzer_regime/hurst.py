"""Rolling Hurst exponent of log closes: the generalized Hurst exponent H(2).

Over the last ``window`` log closes ``p``, for each lag ``L`` in ``min_lag..max_lag`` take the
``window - L`` differences ``p[t] - p[t - L]`` and their mean square ``m(L)``. For a process
with Hurst exponent H, ``m(L) ~ L ** (2 H)``, so H is the slope of the least-squares line
through ``(log L, 0.5 * log m(L))``:

    H = sum_L w_L * 0.5 * log m(L),  w_L = (log L - mean(log L)) / sum_L (log L - mean(log L))**2

This is the generalized Hurst exponent with q = 2 (T. Di Matteo, "Multi-scaling in finance",
Quantitative Finance 7, 2007), the variance-of-lags method taken around zero rather than
around the window's mean difference. H ≈ 0.5 for a random walk, above 0.5 when moves persist
in one direction (positively correlated moves, or a steady drift: both are "price keeps going
the same way", which is what the regime filter asks), below 0.5 when moves revert.

Why around zero: over a 100-close window, subtracting each lag's mean difference removes more
of the variance at long lags than at short ones and biases the slope low (a random walk reads
about 0.42 with lags 2..20); around zero, with lags 1..10, it reads 0.49 (10th-90th percentile
0.38-0.58), and the seed's 0.55 threshold means what it says.

Streaming: each lag's sum of squared differences is updated as a close enters and the oldest
leaves (two differences per lag), O(number of lags) per update. So that rounding cannot
accumulate over millions of updates, the sums are recomputed exactly from the window every
``window`` updates (amortised O(number of lags) as well).
"""

from __future__ import annotations

import math

import numpy as np

NAN = math.nan


class RollingHurst:
    """Hurst exponent H(2) of the last ``window`` values pushed; NaN until the window is full.

    Push log prices (the class takes no logs itself). :attr:`value` is computed on the first
    read after a push; it is NaN when some lag has no movement at all (a flat window).
    """

    def __init__(self, window: int, min_lag: int = 1, max_lag: int = 10) -> None:
        if not 1 <= min_lag < max_lag <= window // 2:
            raise ValueError(
                f"need 1 <= min_lag < max_lag <= window / 2, got {min_lag}, {max_lag}, {window}"
            )
        self.window = window
        self.lags = tuple(range(min_lag, max_lag + 1))
        logs = [math.log(lag) for lag in self.lags]
        mean = sum(logs) / len(logs)
        sxx = sum((x - mean) ** 2 for x in logs)
        # H = sum(w * log rms) = sum(w * 0.5 * log m): fold the 0.5 into the weights.
        self._weights = [0.5 * (x - mean) / sxx for x in logs]
        self._counts = [window - lag for lag in self.lags]
        # Each value is stored twice, at pos and pos + window, so the window is always the
        # contiguous run buf[pos : pos + window] and no index needs a modulo.
        self._buf = [0.0] * (2 * window)
        self._pos = 0  # where the next value goes; when full, the oldest value sits here
        # (offset of the value `lag` before the new one, offset of the value `lag` after the
        # oldest), both from pos
        self._offsets = [(window - lag, lag) for lag in self.lags]
        self._count = 0
        self._since_exact = 0
        self._sq = [0.0] * len(self.lags)
        self._value = NAN
        self._stale = False

    def push(self, x: float) -> None:
        """Add one value (a log close); drop the oldest once the window is full."""
        buf, pos, size, sq = self._buf, self._pos, self.window, self._sq
        have = self._count
        if have == size:
            oldest = buf[pos]
            i = 0
            for back, ahead in self._offsets:
                new = x - buf[pos + back]
                old = buf[pos + ahead] - oldest
                sq[i] += new * new - old * old
                i += 1
        else:
            for i, lag in enumerate(self.lags):
                if have >= lag:
                    new = x - buf[pos + size - lag]
                    sq[i] += new * new
            self._count = have + 1
        buf[pos] = buf[pos + size] = x
        self._pos = pos + 1 if pos + 1 < size else 0
        if have == size:
            self._since_exact += 1
            if self._since_exact >= size:
                self._recompute()
        self._stale = True

    def _recompute(self) -> None:
        """Exact sums from the window, discarding the rounding the running sums collected."""
        p = np.array(self.ordered())
        for i, lag in enumerate(self.lags):
            d = p[lag:] - p[:-lag]
            self._sq[i] = float(np.vdot(d, d))  # d @ d's dot function (kernel._vdot)
        self._since_exact = 0

    def ordered(self) -> list[float]:
        """The values in the window, oldest first."""
        if self._count < self.window:
            return self._buf[: self._count]
        return self._buf[self._pos : self._pos + self.window]

    @property
    def value(self) -> float:
        """The Hurst exponent over the current window (NaN while filling or when flat)."""
        if self._stale:
            self._stale = False
            self._value = self._compute()
        return self._value

    def _compute(self) -> float:
        if self._count < self.window:
            return NAN
        h = 0.0
        log = math.log
        for weight, total, n in zip(self._weights, self._sq, self._counts, strict=True):
            if not total > 0.0:
                return NAN
            h += weight * log(total / n)
        return h
