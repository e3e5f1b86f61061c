"""Mean-reversion strength in [0, 1] from a rolling regression of log returns on log prices.

Over the last ``window`` pairs, regress each log return on the log close before it:

    p[t] - p[t-1] = a + b * p[t-1] + e[t]

This is the discrete Ornstein-Uhlenbeck (Dickey-Fuller) fit: with ``b < 0`` a displacement of
the price from its mean ``-a / b`` shrinks by the factor ``(1 + b)`` each candle. The strength
is the share of a displacement that is gone after ``horizon`` candles:

    strength = 1 - (1 + b) ** horizon,   clipped: 0 when b >= 0, 1 when b <= -1

0 means no pull back to the mean (a random walk or a trend), 1 means the price snaps back
within the horizon. The half-life in candles is ``log(0.5) / log(1 + b)``. Over a pure random
walk the estimate of b is biased slightly negative (about ``-5 / window``), so a 100-pair
window with a 10-candle horizon reads a median 0.36 there (10th-90th percentile 0.08-0.70);
the seed's threshold 0.6 sits above it.

Streaming: the four sums of the regression are updated as a pair enters and the oldest leaves
(O(1)); prices are taken relative to an anchor near the window's mean so the sums do not lose
precision, and every ``window`` updates the sums are recomputed exactly around a fresh anchor.
"""

from __future__ import annotations

import math

import numpy as np

NAN = math.nan


class RollingMeanReversion:
    """Mean-reversion strength of the last ``window`` (log close, next log return) pairs."""

    def __init__(self, window: int, horizon: int) -> None:
        if window < 3:
            raise ValueError(f"mean-reversion window must be at least 3, got {window}")
        if horizon < 1:
            raise ValueError(f"mean-reversion horizon must be at least 1, got {horizon}")
        self.window = window
        self.horizon = horizon
        self._xs = [0.0] * window  # log close before each return (raw, not anchored)
        self._ys = [0.0] * window  # the log return
        self._pos = 0
        self._count = 0
        self._since_exact = 0
        self._prev = NAN
        self._anchor = NAN
        self._sx = self._sy = self._sxx = self._sxy = 0.0
        #: The regression slope b (NaN until the window is full or when prices are flat).
        self.slope = NAN
        #: The strength in [0, 1]; NaN until ``window + 1`` prices were pushed.
        self.value = NAN

    def push(self, p: float) -> float:
        """Add one log close; return the strength after it."""
        prev = self._prev
        self._prev = p
        if prev != prev:
            self._anchor = p
            return self.value
        x, y = prev, p - prev
        xa = x - self._anchor
        pos = self._pos
        if self._count == self.window:
            ox = self._xs[pos] - self._anchor
            oy = self._ys[pos]
            self._sx -= ox
            self._sy -= oy
            self._sxx -= ox * ox
            self._sxy -= ox * oy
        else:
            self._count += 1
        self._xs[pos], self._ys[pos] = x, y
        self._pos = (pos + 1) % self.window
        self._sx += xa
        self._sy += y
        self._sxx += xa * xa
        self._sxy += xa * y
        if self._count < self.window:
            return self.value
        self._since_exact += 1
        if self._since_exact >= self.window:
            self._recompute()
        self._update_value()
        return self.value

    def _recompute(self) -> None:
        xs = np.array(self._xs)
        ys = np.array(self._ys)
        self._anchor = float(xs.mean())
        xa = xs - self._anchor
        self._sx = float(xa.sum())
        self._sy = float(ys.sum())
        # ``xa @ xa`` and ``xa @ ys``: the same dot function, without matmul's set-up.
        self._sxx = float(np.vdot(xa, xa))
        self._sxy = float(np.vdot(xa, ys))
        self._since_exact = 0

    def _update_value(self) -> None:
        n = self.window
        den = n * self._sxx - self._sx * self._sx
        if not den > 0.0:
            self.slope = self.value = NAN
            return
        b = (n * self._sxy - self._sx * self._sy) / den
        self.slope = b
        self.value = strength(b, self.horizon)


def strength(b: float, horizon: int) -> float:
    """``1 - (1 + b) ** horizon`` clipped to [0, 1] (see the module doc)."""
    if b >= 0.0:
        return 0.0
    if b <= -1.0:
        return 1.0
    return 1.0 - (1.0 + b) ** horizon
