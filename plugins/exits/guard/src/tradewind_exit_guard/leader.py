"""The market leader's recent marks, and whether it has dumped.

Exit monitors are called only for instruments with an open position, so the guard cannot see
the leader's own trades unless the leader itself is held. It samples instead: at every call
(any instrument's trades or candle close) it records ``ctx.last_price(leader)`` stamped with
the call's time. The drop is measured from the highest mark in the window (both ends included)
to the latest one. The maximum is kept in a monotonic queue: O(1) amortised per mark.

Limitation: the leader is seen only as often as the guard is called and only at the engine's
last mark, so a dump and recovery between two calls goes unseen, and a drop is noticed at the
next call of a held instrument, not at the leader's trade.
"""

from __future__ import annotations

import math
from collections import deque
from decimal import Decimal


class LeaderWatch:
    """Sliding-window peak and last mark of one instrument."""

    def __init__(self, window_ns: int, drop_pct: float) -> None:
        self.window_ns = window_ns
        self._keep = Decimal(1) - Decimal(repr(drop_pct))
        # (ts, price) with strictly decreasing prices: the front is the window's maximum.
        self._peaks: deque[tuple[int, float]] = deque()
        self._last_ts = -(2**62)
        #: The latest mark seen (NaN before any).
        self.last: float = math.nan

    def observe(self, ts_ns: int, price: float) -> None:
        """Record the leader at ``price`` at ``ts_ns``; NaN (no trade yet) is ignored."""
        if math.isnan(price):
            return
        ts_ns = max(ts_ns, self._last_ts)  # marks arrive from several instruments' calls
        self._last_ts = ts_ns
        peaks = self._peaks
        while peaks and peaks[-1][1] <= price:
            peaks.pop()
        peaks.append((ts_ns, price))
        self.last = price

    def peak(self, now_ns: int) -> float:
        """The highest mark in ``[now − window, now]`` (NaN before any mark)."""
        peaks = self._peaks
        while len(peaks) > 1 and peaks[0][0] < now_ns - self.window_ns:
            peaks.popleft()
        return peaks[0][1] if peaks else math.nan

    def dumped(self, now_ns: int) -> tuple[float, float] | None:
        """``(peak, last)`` when the last mark is at least the drop below the window's peak."""
        peak = self.peak(now_ns)
        if math.isnan(peak) or not Decimal(self.last) <= Decimal(peak) * self._keep:
            return None
        return peak, self.last
