"""The shape of one candle: wicks, close position, bounce strength and the seed's rejection.

With ``range = high - low``:

- ``lower_wick = (min(open, close) - low) / range``, ``upper_wick = (high - max(open, close))
  / range``, ``body = |close - open| / range`` (the three add up to 1);
- ``close_position = (close - low) / range`` (0 at the low, 1 at the high);
- ``bounce_long = w * lower_wick + (1 - w) * close_position`` and
  ``bounce_short = w * upper_wick + (1 - w) * (1 - close_position)``, ``w = wick_weight``
  (default 0.5). Both lie in [0, 1] because a lower wick never exceeds the close position.
- ``rejection`` is the seed's pattern: +1 when ``lower_wick > body_ratio * body``, the candle
  closed up and ``close_position > close_min``; -1 for the mirror image (upper wick, closed
  down, ``1 - close_position > close_min``); 0 otherwise.

A candle with no range (``high == low``) has no wicks and no body: ``lower_wick =
upper_wick = body = 0``, ``close_position = 0.5`` (neutral), so ``bounce_* = (1 - w) / 2``
and ``rejection = 0``.
"""

from __future__ import annotations

import attrs
from tradewind.model import Candle


@attrs.frozen(kw_only=True)
class CandleShape:
    """The shape measures of one candle, all fractions of its range."""

    lower_wick: float
    upper_wick: float
    body: float
    close_position: float
    bounce_long: float
    bounce_short: float
    rejection: float


def candle_shape(
    candle: Candle, *, wick_weight: float = 0.5, body_ratio: float = 2.0, close_min: float = 0.8
) -> CandleShape:
    """Measure ``candle``; see the module docstring for every formula."""
    o, h, lo, c = candle.open, candle.high, candle.low, candle.close
    rng = h - lo
    if rng <= 0.0:
        lower = upper = body = 0.0
        pos = 0.5
    else:
        lower = (min(o, c) - lo) / rng
        upper = (h - max(o, c)) / rng
        body = abs(c - o) / rng
        pos = (c - lo) / rng
    rejection = 0.0
    if rng > 0.0:
        if lower > body_ratio * body and c > o and pos > close_min:
            rejection = 1.0
        elif upper > body_ratio * body and c < o and 1.0 - pos > close_min:
            rejection = -1.0
    return CandleShape(
        lower_wick=lower,
        upper_wick=upper,
        body=body,
        close_position=pos,
        bounce_long=wick_weight * lower + (1.0 - wick_weight) * pos,
        bounce_short=wick_weight * upper + (1.0 - wick_weight) * (1.0 - pos),
        rejection=rejection,
    )
