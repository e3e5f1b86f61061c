"""Options of the microstructure analyzer (``[analyzers.<key>]``, ``plugin = "microstructure"``).

Defaults are the seed strategy's numbers (DESIGN §5, seed §2.2-2.3): 1m candles, a 20-candle
volume mean, a 15-minute mean and standard deviation of closes, the autocorrelation of the last
10 one-minute returns, and the seed's rejection pattern (wick > 2 x body, close in the outer
20 % of the range).
"""

from __future__ import annotations

from typing import Any

import attrs
from tradewind.timeframes import parse_timeframe


def _timeframe(_inst: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    try:
        parse_timeframe(value)
    except ValueError as exc:
        raise ValueError(f"{attribute.name}: {exc}") from None


def _at_least(lowest: int) -> Any:
    def check(_inst: Any, attribute: attrs.Attribute[Any], value: int) -> None:
        if value < lowest:
            raise ValueError(f"{attribute.name} must be >= {lowest}, got {value!r}")

    return check


def _unit_interval(_inst: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be in [0, 1], got {value!r}")


def _non_negative(_inst: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value >= 0.0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


@attrs.frozen(kw_only=True)
class MicrostructureConfig:
    """Options of the microstructure analyzer; see docs/analyzers/microstructure.md."""

    #: The timeframe whose closed candles are measured (other timeframes are ignored).
    timeframe: str = attrs.field(default="1m", validator=_timeframe)
    #: Volume spike = volume / mean volume of this many *previous* candles.
    volume_period: int = attrs.field(default=20, validator=_at_least(1))
    #: Candles in the z-score window (15 one-minute candles = the seed's 15 minutes), the
    #: current close included.
    zscore_period: int = attrs.field(default=15, validator=_at_least(2))
    #: Log returns in the autocorrelation window (the seed's last 10 one-minute candles).
    autocorr_window: int = attrs.field(default=10, validator=_at_least(3))
    #: Weight of the wick in the bounce strength; the close position gets 1 - this.
    bounce_wick_weight: float = attrs.field(default=0.5, validator=_unit_interval)
    #: Rejection: the rejecting wick must exceed this multiple of the body ...
    rejection_body_ratio: float = attrs.field(default=2.0, validator=_non_negative)
    #: ... and the close must lie beyond this fraction of the range, on the wick's far side.
    rejection_close_min: float = attrs.field(default=0.8, validator=_unit_interval)

    @property
    def timeframe_ns(self) -> int:
        """The measured timeframe in nanoseconds."""
        return parse_timeframe(self.timeframe)
