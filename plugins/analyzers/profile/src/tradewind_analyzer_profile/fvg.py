"""Fair value gaps: the price range three consecutive candles left untraded, and its filling.

Detection, on each closed candle ``c3`` of the gap timeframe, with ``c1, c2`` the two before it:

- bullish gap when ``c1.high < c3.low``: the gap is ``[c1.high, c3.low]``;
- bearish gap when ``c1.low > c3.high``: the gap is ``[c3.high, c1.low]``;
- kept only if ``(top - bottom) / bottom >= min_gap_pct``.

Filling: every price traded after the gap formed (ticks with ``ts >= c3`` close, and candles of
any timeframe up to the gap timeframe that opened at or after it) moves the gap's *extreme*: the
lowest price since creation for a bullish gap, the highest for a bearish one. The unfilled
part of a bullish gap is ``[bottom, min(top, extreme)]``, of a bearish one
``[max(bottom, extreme), top]``; the filled fraction is the share of the gap traded through.
A gap is *partially filled* when 0 < fraction < 1 and *filled* (and dropped) when price
reaches its far edge. A gap older than ``max_age_ns`` is dropped.
"""

from __future__ import annotations

from collections import deque
from itertools import count

import attrs
import numpy as np
import numpy.typing as npt
from tradewind.model import Candle


@attrs.define(kw_only=True)
class Gap:
    """One open fair value gap (mutable runtime state)."""

    bullish: bool
    bottom: float
    top: float
    #: Close time of the third candle (ns); prices from then on fill the gap.
    created_ts_ns: int
    #: Lowest (bullish) or highest (bearish) price traded since creation.
    extreme: float
    seq: int = 0

    @property
    def open_bottom(self) -> float:
        """Lower bound of the part not yet traded through."""
        return self.bottom if self.bullish else max(self.bottom, self.extreme)

    @property
    def open_top(self) -> float:
        """Upper bound of the part not yet traded through."""
        return min(self.top, self.extreme) if self.bullish else self.top

    @property
    def fill(self) -> float:
        """Fraction of the gap traded through, in [0, 1]."""
        size = self.top - self.bottom
        done = (self.top - self.extreme) if self.bullish else (self.extreme - self.bottom)
        return min(1.0, max(0.0, done / size))

    @property
    def filled(self) -> bool:
        """Whether price has traded through the whole gap."""
        return self.extreme <= self.bottom if self.bullish else self.extreme >= self.top

    def see(self, low: float, high: float) -> None:
        """Fold the range of prices traded after creation."""
        if self.bullish:
            self.extreme = min(self.extreme, low)
        else:
            self.extreme = max(self.extreme, high)


class GapBook:
    """The open fair value gaps of one instrument.

    Cost per candle or tick batch: O(G) for G open gaps (bounded by ``max_age`` / timeframe,
    e.g. 96 on 15m with the 24 h expiry) plus the batch's min/max.
    """

    def __init__(
        self, *, timeframe_ns: int, min_gap_pct: float = 0.002, max_age_ns: int = 24 * 3600 * 10**9
    ) -> None:
        self.timeframe_ns = timeframe_ns
        self.min_gap_pct = min_gap_pct
        self.max_age_ns = max_age_ns
        self.gaps: list[Gap] = []
        self._last3: deque[Candle] = deque(maxlen=3)
        self._seq = count()

    # -- streaming ------------------------------------------------------------------------
    def on_candle(self, candle: Candle) -> None:
        """Fold a closed candle of any timeframe; the gap timeframe's also create gaps."""
        if candle.timeframe_ns <= self.timeframe_ns and self.gaps:
            # One pass (this runs at every close): each gap sees the candle, then is kept
            # unless filled or too old — what see() over all, then _drop(), give.
            low, high, opened = candle.low, candle.high, candle.open_ts_ns
            now, max_age = candle.close_ts_ns, self.max_age_ns
            kept: list[Gap] = []
            for g in self.gaps:
                if g.bullish:
                    if opened >= g.created_ts_ns:
                        g.extreme = min(g.extreme, low)
                    if g.extreme <= g.bottom:
                        continue  # filled
                else:
                    if opened >= g.created_ts_ns:
                        g.extreme = max(g.extreme, high)
                    if g.extreme >= g.top:
                        continue
                if now - g.created_ts_ns < max_age:
                    kept.append(g)
            self.gaps = kept
        else:
            self._drop(candle.close_ts_ns)
        if candle.timeframe_ns == self.timeframe_ns:
            self._last3.append(candle)
            if len(self._last3) == 3:
                self._detect()

    def on_ticks(self, ts_ns: npt.NDArray[np.int64], price: npt.NDArray[np.float64]) -> None:
        """Fold trades (sorted by time); each gap sees only those at or after its creation."""
        if len(ts_ns) == 0 or not self.gaps:
            return
        first = int(ts_ns[0])
        low, high = float(price.min()), float(price.max())
        for g in self.gaps:
            if first >= g.created_ts_ns:
                g.see(low, high)
            else:
                i = int(np.searchsorted(ts_ns, g.created_ts_ns, side="left"))
                if i < len(ts_ns):
                    g.see(float(price[i:].min()), float(price[i:].max()))

    def expire(self, now_ns: int) -> None:
        """Drop gaps older than ``max_age_ns`` at ``now_ns`` (and filled ones)."""
        self._drop(now_ns)

    def _drop(self, now_ns: int) -> None:
        # Gap.filled inlined (this runs at every close of a longer timeframe, over every
        # open gap): kept unless filled or too old.
        max_age = self.max_age_ns
        self.gaps = [
            g
            for g in self.gaps
            if not (g.extreme <= g.bottom if g.bullish else g.extreme >= g.top)
            and now_ns - g.created_ts_ns < max_age
        ]

    def _detect(self) -> None:
        c1, _c2, c3 = self._last3
        if c1.high < c3.low:
            self._add(True, c1.high, c3.low, c3)
        elif c1.low > c3.high:
            self._add(False, c3.high, c1.low, c3)

    def _add(self, bullish: bool, bottom: float, top: float, c3: Candle) -> None:
        if bottom > 0 and (top - bottom) / bottom < self.min_gap_pct:
            return
        self.gaps.append(
            Gap(
                bullish=bullish,
                bottom=bottom,
                top=top,
                created_ts_ns=c3.close_ts_ns,
                extreme=top if bullish else bottom,
                seq=next(self._seq),
            )
        )

    # -- reading --------------------------------------------------------------------------
    def nearest_bullish(self) -> Gap | None:
        """The open bullish gap whose unfilled part is highest (nearest below price)."""
        bulls = [g for g in self.gaps if g.bullish]
        return max(bulls, key=lambda g: (g.open_top, g.seq)) if bulls else None

    def nearest_bearish(self) -> Gap | None:
        """The open bearish gap whose unfilled part is lowest (nearest above price)."""
        bears = [g for g in self.gaps if not g.bullish]
        return min(bears, key=lambda g: (g.open_bottom, -g.seq)) if bears else None
