"""Options of the profile analyzer (``[analyzers.<instance>]`` with ``plugin = "profile"``).

Every default is the seed strategy's number (DESIGN §5, seed §2.2-2.3): a 15-minute profile with
a 70 % value area, zones and fair value gaps on the longest timeframe (15m), zone strength
100 / 70 / 40, at most 50 zones per symbol, gaps kept until filled or 24 h old.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
from tradewind.model.market import NS_PER_SECOND
from tradewind.timeframes import parse_timeframe

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """Nanoseconds in a duration such as ``"90s"``, ``"15m"``, ``"4h"``, ``"2d"`` (positive)."""
    text = text.strip() if isinstance(text, str) else ""
    unit = text[-1:] if text else ""
    number = text[:-1]
    if unit not in _DURATION_UNITS or not number.isdigit() or int(number) <= 0:
        raise ValueError(f"'{text}' is not a duration (use e.g. 90s, 15m, 4h, 1d)")
    return int(number) * _DURATION_UNITS[unit] * NS_PER_SECOND


def _duration(_inst: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    try:
        parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"{attribute.name}: {exc}") from None


def _timeframe(_inst: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is None:
        return
    try:
        parse_timeframe(value)
    except ValueError as exc:
        raise ValueError(f"{attribute.name}: {exc}") from None


def _positive(_inst: Any, attribute: attrs.Attribute[Any], value: float | int | None) -> None:
    if value is not None and not value > 0:
        raise ValueError(f"{attribute.name} must be positive, got {value!r}")


def _fraction(_inst: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{attribute.name} must be in (0, 1], got {value!r}")


def _non_negative(_inst: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


@attrs.frozen(kw_only=True)
class ProfileConfig:
    """Options of the profile analyzer; see docs/analyzers/profile.md for each output."""

    # -- market profile -------------------------------------------------------------------
    #: Length of the rolling profile window, a duration ("15m", "4h"). The profile covers the
    #: trades with ``now - window <= ts < now``; ``now`` is the latest instant the analyzer has
    #: seen (one nanosecond after the last trade, or the last candle's close).
    window: str = attrs.field(default="15m", validator=_duration)
    #: Width of a price bin in ticks of the instrument (a bin holds ``bin_ticks`` tick prices).
    bin_ticks: int = attrs.field(default=10, validator=_positive)
    #: Width of a price bin in price units; overrides ``bin_ticks`` and must be a whole
    #: multiple of the instrument's tick size.
    bin_size: Decimal | None = attrs.field(default=None, validator=_positive)
    #: Fraction of the window's volume the value area holds (the seed's 70 %).
    value_area_pct: float = attrs.field(default=0.70, validator=_fraction)
    #: Volumes are counted as whole multiples of this quantity, so that sums are exact and
    #: ties between bins are decided the same way whatever order trades came and went in.
    #: Default: the instrument's lot size / 1000. Each trade's size is rounded to it.
    volume_quantum: Decimal | None = attrs.field(default=None, validator=_positive)

    # -- supply / demand zones ------------------------------------------------------------
    #: Timeframe whose closed candles create, test and break zones (the longest, 15m).
    zone_timeframe: str = attrs.field(default="15m", validator=_timeframe)
    #: Number of previous candles whose mean volume defines a volume spike.
    zone_volume_period: int = attrs.field(default=20, validator=_positive)
    #: A zone's origin candle has volume > ``zone_volume_factor`` x that mean.
    zone_volume_factor: float = attrs.field(default=1.5, validator=_positive)
    #: ... and a rejection wick: wick / (high - low) >= this fraction.
    zone_wick_ratio: float = attrs.field(default=0.5, validator=_fraction)
    #: Most zones kept per symbol (demand and supply together); the weakest, then the oldest,
    #: is dropped when a new zone would exceed it.
    zone_max: int = attrs.field(default=50, validator=_positive)
    #: Strength of an untested zone.
    zone_fresh_strength: float = 100.0
    #: Strength of a zone tested 1..``zone_tested_max`` times.
    zone_tested_strength: float = 70.0
    #: Strength of a zone tested more than ``zone_tested_max`` times.
    zone_weak_strength: float = 40.0
    #: Tests up to which a zone counts as "tested" rather than "weak" (the seed's 1-2).
    zone_tested_max: int = attrs.field(default=2, validator=_positive)

    # -- fair value gaps ------------------------------------------------------------------
    #: Timeframe of the three candles that make a gap; None = ``zone_timeframe``.
    fvg_timeframe: str | None = attrs.field(default=None, validator=_timeframe)
    #: Smallest gap kept, as a fraction of the gap's lower bound (the seed's 0.2 %).
    fvg_min_gap_pct: float = attrs.field(default=0.002, validator=_non_negative)
    #: A gap not fully filled within this duration of its creation is dropped.
    fvg_max_age: str = attrs.field(default="24h", validator=_duration)

    @property
    def window_ns(self) -> int:
        """The profile window in nanoseconds."""
        return parse_duration(self.window)

    @property
    def zone_timeframe_ns(self) -> int:
        """The zone timeframe in nanoseconds."""
        return parse_timeframe(self.zone_timeframe)

    @property
    def fvg_timeframe_ns(self) -> int:
        """The fair-value-gap timeframe in nanoseconds."""
        return parse_timeframe(self.fvg_timeframe or self.zone_timeframe)

    @property
    def fvg_max_age_ns(self) -> int:
        """The gap expiry in nanoseconds."""
        return parse_duration(self.fvg_max_age)
