"""Rolling-window statistics with O(1) updates that stay accurate on long streams.

A naive running sum of squares loses most digits of a price variance (``sum(x*x)/n - mean**2``
with x near 50,000 and a spread of a few dollars cancels ~8 of the 16 digits a float has). These
classes avoid it three ways:

- values are *shifted* by a reference ``K`` (the oldest buffered value at the last
  recompute), so the arithmetic works on small deviations; ``x - K`` of two nearby prices is
  exact;
- the running state is Welford's mean and sum of squared deviations (``M2``), updated by
  replacing the oldest value with the newest in one step;
- the state is recomputed exactly from the ring buffer (two passes, ``math.fsum``) every
  ``n`` updates, and at once when ``M2`` falls below 1/1000 of its peak since the last
  recompute (that is where cancellation would eat digits). A constant window thus has
  ``M2 == 0`` exactly.

Each update costs O(1) amortised (O(n) at most, once per ``n`` updates or after a collapse of
the variance), never O(history).
"""

from __future__ import annotations

import math
from collections import deque

#: Recompute exactly when M2 drops below this fraction of its peak since the last recompute.
COLLAPSE = 1e-3


class RollingSum:
    """Sum and mean of the last ``n`` values (a running sum, resummed every ``n`` updates)."""

    def __init__(self, n: int) -> None:
        if n < 1:
            raise ValueError(f"window must be >= 1, got {n}")
        self.n = n
        self._buf: deque[float] = deque()
        self._sum = 0.0
        self._since = 0

    def push(self, x: float) -> None:
        """Add ``x``; the oldest value leaves once ``n`` are held."""
        self._buf.append(x)
        self._sum += x
        if len(self._buf) > self.n:
            self._sum -= self._buf.popleft()
        self._since += 1
        if self._since >= self.n:
            self._sum = math.fsum(self._buf)
            self._since = 0

    @property
    def full(self) -> bool:
        """Whether ``n`` values are held."""
        return len(self._buf) == self.n

    @property
    def sum(self) -> float:
        """Sum of the held values."""
        return self._sum

    @property
    def mean(self) -> float:
        """Mean of the last ``n`` values; NaN until ``n`` are held."""
        return self._sum / self.n if self.full else math.nan


class RollingMoments:
    """Mean and population variance of the last ``n`` values (shifted sliding Welford)."""

    def __init__(self, n: int) -> None:
        if n < 1:
            raise ValueError(f"window must be >= 1, got {n}")
        self.n = n
        self._buf: deque[float] = deque()
        self._k = 0.0  # shift
        self._mean = 0.0  # of the shifted values
        self._m2 = 0.0
        self._peak = 0.0
        self._since = 0

    def push(self, x: float) -> None:
        """Add ``x``; the oldest value leaves once ``n`` are held."""
        buf = self._buf
        if not buf:
            self._k = x
        y = x - self._k
        if len(buf) < self.n:
            buf.append(x)
            d = y - self._mean
            self._mean += d / len(buf)
            self._m2 += d * (y - self._mean)
        else:
            yo = buf.popleft() - self._k
            buf.append(x)
            mean = self._mean + (y - yo) / self.n
            self._m2 += (y - yo) * (y - mean + yo - self._mean)
            self._mean = mean
        self._since += 1
        self._peak = max(self._peak, self._m2)
        if self._since >= self.n or self._m2 < COLLAPSE * self._peak:
            self.recompute()

    def recompute(self) -> None:
        """Recompute the state exactly from the buffer (two passes, shifted, fsum)."""
        if not self._buf:
            return
        self._k = self._buf[0]
        ys = [x - self._k for x in self._buf]
        self._mean = math.fsum(ys) / len(ys)
        self._m2 = math.fsum((y - self._mean) ** 2 for y in ys)
        self._peak = self._m2
        self._since = 0

    @property
    def full(self) -> bool:
        """Whether ``n`` values are held."""
        return len(self._buf) == self.n

    @property
    def mean(self) -> float:
        """Mean of the held values; NaN when empty."""
        return self._k + self._mean if self._buf else math.nan

    @property
    def variance(self) -> float:
        """Population variance (divided by the count, ddof=0) of the held values."""
        return max(self._m2, 0.0) / len(self._buf) if self._buf else math.nan

    @property
    def std(self) -> float:
        """Population standard deviation of the held values."""
        return math.sqrt(self.variance)

    def deviation(self, x: float) -> float:
        """``x - mean``, computed in shifted coordinates (no cancellation at price levels)."""
        return (x - self._k) - self._mean


class RollingCovariance:
    """Means, variances and covariance of the last ``n`` pairs (shifted sliding Welford)."""

    def __init__(self, n: int) -> None:
        if n < 1:
            raise ValueError(f"window must be >= 1, got {n}")
        self.n = n
        self._buf: deque[tuple[float, float]] = deque()
        self._kx = self._ky = 0.0
        self._mx = self._my = 0.0
        self._m2x = self._m2y = self._cxy = 0.0
        self._peak_x = self._peak_y = 0.0
        self._since = 0

    def push(self, x: float, y: float) -> None:
        """Add the pair ``(x, y)``; the oldest pair leaves once ``n`` are held."""
        buf = self._buf
        if not buf:
            self._kx, self._ky = x, y
        u, v = x - self._kx, y - self._ky
        if len(buf) < self.n:
            buf.append((x, y))
            c = len(buf)
            du, dv = u - self._mx, v - self._my
            self._mx += du / c
            self._my += dv / c
            self._m2x += du * (u - self._mx)
            self._m2y += dv * (v - self._my)
            self._cxy += du * (v - self._my)
        else:
            xo, yo = buf.popleft()
            uo, vo = xo - self._kx, yo - self._ky
            buf.append((x, y))
            du, dv = u - uo, v - vo
            mx = self._mx + du / self.n
            my = self._my + dv / self.n
            self._m2x += du * (u - mx + uo - self._mx)
            self._m2y += dv * (v - my + vo - self._my)
            self._cxy += du * (v - my) + dv * (uo - self._mx)
            self._mx, self._my = mx, my
        self._since += 1
        self._peak_x = max(self._peak_x, self._m2x)
        self._peak_y = max(self._peak_y, self._m2y)
        if (
            self._since >= self.n
            or self._m2x < COLLAPSE * self._peak_x
            or self._m2y < COLLAPSE * self._peak_y
        ):
            self.recompute()

    def recompute(self) -> None:
        """Recompute the state exactly from the buffer (two passes, shifted, fsum)."""
        if not self._buf:
            return
        self._kx, self._ky = self._buf[0]
        us = [x - self._kx for x, _ in self._buf]
        vs = [y - self._ky for _, y in self._buf]
        c = len(us)
        self._mx, self._my = math.fsum(us) / c, math.fsum(vs) / c
        du = [u - self._mx for u in us]
        dv = [v - self._my for v in vs]
        self._m2x = math.fsum(a * a for a in du)
        self._m2y = math.fsum(b * b for b in dv)
        self._cxy = math.fsum(a * b for a, b in zip(du, dv, strict=True))
        self._peak_x, self._peak_y = self._m2x, self._m2y
        self._since = 0

    @property
    def full(self) -> bool:
        """Whether ``n`` pairs are held."""
        return len(self._buf) == self.n

    @property
    def correlation(self) -> float:
        """Pearson correlation of the held pairs; NaN with fewer than 2 or a constant side."""
        if len(self._buf) < 2 or self._m2x <= 0.0 or self._m2y <= 0.0:
            return math.nan
        r = self._cxy / math.sqrt(self._m2x * self._m2y)
        return min(1.0, max(-1.0, r))


class Lag1Autocorrelation:
    """Lag-1 autocorrelation of the last ``n`` values of a series.

    The Pearson correlation of the ``n - 1`` consecutive pairs ``(s[i-1], s[i])`` in the window,
    each side with its own mean (as ``numpy.corrcoef(s[:-1], s[1:])``).
    """

    def __init__(self, n: int) -> None:
        if n < 3:
            raise ValueError(f"an autocorrelation window needs >= 3 values, got {n}")
        self.n = n
        self._pairs = RollingCovariance(n - 1)
        self._last: float | None = None

    def push(self, x: float) -> None:
        """Add the next value of the series."""
        if self._last is not None:
            self._pairs.push(self._last, x)
        self._last = x

    @property
    def value(self) -> float:
        """The autocorrelation; NaN until ``n`` values are held or when a side is constant."""
        return self._pairs.correlation if self._pairs.full else math.nan
