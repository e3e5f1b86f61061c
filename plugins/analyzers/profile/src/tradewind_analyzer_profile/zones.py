"""Supply and demand zones from volume-spike rejection candles, with tests and breaks.

Rules, applied on each closed candle of the zone timeframe, in this order:

1. Existing zones meet the candle. A demand zone is *broken* when the candle closes below its
   low, a supply zone when it closes above its high; broken zones are dropped. Otherwise, if
   the candle's range overlaps the zone and the previous candle did not, the zone has been
   *tested* once more (a test is a return to the zone after price left it; candles that stay
   in the zone do not count again). A zone starts "in contact" with its origin candle, so it
   stays fresh until price leaves and comes back.
2. The candle may create zones. It needs a volume spike: volume > ``volume_factor`` x the mean
   volume of the previous ``volume_period`` candles (no zone before that many candles). A
   lower wick with ``(min(open, close) - low) / (high - low) >= wick_ratio`` creates a demand
   zone ``[low, min(open, close)]``; an upper wick with ``(high - max(open, close)) / (high -
   low) >= wick_ratio`` a supply zone ``[max(open, close), high]``. A candle with no range
   creates nothing.
3. When more than ``max_zones`` zones are kept, the weakest is dropped, the oldest first among
   equally weak ones.

Strength: ``fresh`` (100) untested, ``tested`` (70) after 1..``tested_max`` tests, ``weak``
(40) after more.
"""

from __future__ import annotations

import enum
from collections import deque
from itertools import count

import attrs
from tradewind.model import Candle


class ZoneKind(enum.Enum):
    """Demand zones are support below price, supply zones resistance above it."""

    DEMAND = "demand"
    SUPPLY = "supply"


@attrs.frozen(kw_only=True)
class StrengthRule:
    """Zone strength by number of tests."""

    fresh: float = 100.0
    tested: float = 70.0
    weak: float = 40.0
    tested_max: int = 2

    def __call__(self, tests: int) -> float:
        """Strength of a zone tested ``tests`` times."""
        if tests == 0:
            return self.fresh
        return self.tested if tests <= self.tested_max else self.weak


@attrs.define(kw_only=True)
class Zone:
    """One supply or demand zone (mutable runtime state)."""

    kind: ZoneKind
    low: float
    high: float
    #: Close time of the origin candle (ns).
    created_ts_ns: int
    #: Volume of the origin candle over the mean of the previous candles.
    volume_ratio: float
    tests: int = 0
    #: Whether the last candle overlapped the zone (a new overlap after none is a test).
    in_contact: bool = True
    #: Creation order, to break ties between zones made by the same candle.
    seq: int = 0


class ZoneBook:
    """The live zones of one instrument on one timeframe.

    Cost per candle: O(Z) for Z kept zones (at most ``max_zones``); the volume mean is a
    running sum over a ring buffer, O(1).
    """

    def __init__(
        self,
        *,
        timeframe_ns: int,
        volume_period: int = 20,
        volume_factor: float = 1.5,
        wick_ratio: float = 0.5,
        max_zones: int = 50,
        strength: StrengthRule | None = None,
    ) -> None:
        self.timeframe_ns = timeframe_ns
        self.volume_period = volume_period
        self.volume_factor = volume_factor
        self.wick_ratio = wick_ratio
        self.max_zones = max_zones
        self.strength = strength or StrengthRule()
        self.zones: list[Zone] = []
        self._volumes: deque[float] = deque()
        self._volume_sum = 0.0
        self._updates = 0
        self._seq = count()

    # -- streaming ------------------------------------------------------------------------
    def on_candle(self, candle: Candle) -> None:
        """Fold a closed candle of the zone timeframe (others are ignored)."""
        if candle.timeframe_ns != self.timeframe_ns:
            return
        self._meet(candle)
        self._create(candle)
        self._push_volume(candle.volume)

    def _meet(self, c: Candle) -> None:
        # Runs at every close of the zone timeframe over up to ``max_zones`` zones: the
        # candle's fields and the enum member read once (an enum member read off its class
        # costs a descriptor call in Python 3.11, several times the comparison it feeds).
        close, low, high = c.close, c.low, c.high
        demand = ZoneKind.DEMAND
        kept: list[Zone] = []
        for z in self.zones:
            if close < z.low if z.kind is demand else close > z.high:
                continue  # broken: a demand zone closed below, a supply zone above
            touching = low <= z.high and high >= z.low
            if touching and not z.in_contact:
                z.tests += 1
            z.in_contact = touching
            kept.append(z)
        self.zones = kept

    def _create(self, c: Candle) -> None:
        if len(self._volumes) < self.volume_period:
            return
        mean = self._volume_sum / self.volume_period
        if not c.volume > self.volume_factor * mean:
            return
        rng = c.high - c.low
        if rng <= 0:
            return
        ratio = c.volume / mean if mean > 0 else float("nan")
        body_low, body_high = min(c.open, c.close), max(c.open, c.close)
        if (body_low - c.low) / rng >= self.wick_ratio:
            self._add(
                Zone(
                    kind=ZoneKind.DEMAND,
                    low=c.low,
                    high=body_low,
                    created_ts_ns=c.close_ts_ns,
                    volume_ratio=ratio,
                    seq=next(self._seq),
                )
            )
        if (c.high - body_high) / rng >= self.wick_ratio:
            self._add(
                Zone(
                    kind=ZoneKind.SUPPLY,
                    low=body_high,
                    high=c.high,
                    created_ts_ns=c.close_ts_ns,
                    volume_ratio=ratio,
                    seq=next(self._seq),
                )
            )

    def _add(self, zone: Zone) -> None:
        self.zones.append(zone)
        if len(self.zones) > self.max_zones:
            victim = min(self.zones, key=lambda z: (self.strength(z.tests), z.created_ts_ns, z.seq))
            self.zones.remove(victim)

    def _push_volume(self, volume: float) -> None:
        self._volumes.append(volume)
        self._volume_sum += volume
        if len(self._volumes) > self.volume_period:
            self._volume_sum -= self._volumes.popleft()
        self._updates += 1
        if self._updates % self.volume_period == 0:
            # Adding and subtracting leaves rounding residue; a fresh sum every `period`
            # candles bounds it at O(1) amortised cost.
            self._volume_sum = sum(self._volumes)

    # -- reading --------------------------------------------------------------------------
    def mean_volume(self) -> float:
        """Mean volume of the last ``volume_period`` candles (NaN before that many)."""
        if len(self._volumes) < self.volume_period:
            return float("nan")
        return self._volume_sum / self.volume_period

    def nearest_demand(self, price: float) -> Zone | None:
        """The demand zone nearest below ``price`` (or containing it): the highest top."""
        demand = ZoneKind.DEMAND
        below = [z for z in self.zones if z.kind is demand and z.low <= price]
        if not below:
            return None
        return max(below, key=lambda z: (min(z.high, price), self.strength(z.tests), z.seq))

    def nearest_supply(self, price: float) -> Zone | None:
        """The supply zone nearest above ``price`` (or containing it): the lowest bottom."""
        supply = ZoneKind.SUPPLY
        above = [z for z in self.zones if z.kind is supply and z.high >= price]
        if not above:
            return None
        return min(above, key=lambda z: (max(z.low, price), -self.strength(z.tests), -z.seq))
