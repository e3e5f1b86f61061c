"""The ``profile`` analyzer: market profile, supply/demand zones and fair value gaps.

Registered through the ``tradewind.analyzers`` entry point ``profile``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar

import numpy as np
from tradewind import hookimpl
from tradewind.blocks import BlockRow, BlockTable
from tradewind.model import Candle, Instrument, TickBatch
from tradewind.registry import KindRegistry

from tradewind_analyzer_profile.config import ProfileConfig
from tradewind_analyzer_profile.fvg import GapBook
from tradewind_analyzer_profile.market_profile import BlockWindow, VolumeProfile
from tradewind_analyzer_profile.table import (
    NAN,
    ZONE_GAP_KEYS,
    RowArrays,
    level_columns,
    zone_gap_columns,
)
from tradewind_analyzer_profile.zones import StrengthRule, ZoneBook

#: Every key :meth:`ProfileAnalyzer.values` reports, always all of them (NaN when undefined).
VALUE_KEYS: tuple[str, ...] = ("poc", "vah", "val", "profile_volume", *ZONE_GAP_KEYS)


def resolve_bin_ticks(config: ProfileConfig, instrument: Instrument) -> int:
    """Ticks per profile bin: ``bin_size / tick_size`` if ``bin_size`` is set, else bin_ticks."""
    if config.bin_size is None:
        return config.bin_ticks
    ratio = Decimal(config.bin_size) / instrument.tick_size
    if ratio != ratio.to_integral_value() or ratio < 1:
        raise ValueError(
            f"analyzer 'profile' for {instrument.key}: bin_size {config.bin_size} is not a whole "
            f"multiple of the instrument's tick size {instrument.tick_size}; use a multiple, or "
            f"set bin_ticks instead"
        )
    return int(ratio)


class ProfileAnalyzer:
    """Rolling market profile (POC/VAH/VAL), supply/demand zones and fair value gaps.

    Outputs (see docs/analyzers/profile.md): ``poc``, ``vah``, ``val``, ``profile_volume``;
    ``demand_low/high/strength/distance_pct`` of the nearest demand zone at or below the last
    price and ``supply_*`` of the nearest supply zone at or above it; ``fvg_bull_low/high/fill``
    and ``fvg_bear_low/high/fill`` of the nearest open gap on each side. Distances are
    fractions of the price (0.002 = 0.2 %), 0 when price is inside the zone.
    """

    name: ClassVar[str] = "profile"
    config_class: ClassVar[type] = ProfileConfig
    # "block-thread": on_block reads only this analyzer's state and the block; its binning
    # and window kernels release the GIL (tradewind.blocks.opened_rows).
    capabilities: ClassVar[frozenset[str]] = frozenset({"ticks", "block", "block-thread"})

    @classmethod
    def outputs(cls, config: ProfileConfig) -> frozenset[str]:
        """Every key :meth:`values` reports (:data:`VALUE_KEYS`, whatever the config)."""
        return frozenset(VALUE_KEYS)

    def __init__(self, config: ProfileConfig, instrument: Instrument) -> None:
        self.config = config
        self.instrument = instrument
        quantum = (
            Decimal(config.volume_quantum)
            if config.volume_quantum is not None
            else instrument.lot_size / 1000
        )
        self.profile = VolumeProfile(
            window_ns=config.window_ns,
            tick_size=instrument.tick_size,
            bin_ticks=resolve_bin_ticks(config, instrument),
            volume_quantum=quantum,
            value_area_pct=config.value_area_pct,
        )
        self.zones = ZoneBook(
            timeframe_ns=config.zone_timeframe_ns,
            volume_period=config.zone_volume_period,
            volume_factor=config.zone_volume_factor,
            wick_ratio=config.zone_wick_ratio,
            max_zones=config.zone_max,
            strength=StrengthRule(
                fresh=config.zone_fresh_strength,
                tested=config.zone_tested_strength,
                weak=config.zone_weak_strength,
                tested_max=config.zone_tested_max,
            ),
        )
        self.gaps = GapBook(
            timeframe_ns=config.fvg_timeframe_ns,
            min_gap_pct=config.fvg_min_gap_pct,
            max_age_ns=config.fvg_max_age_ns,
        )
        self._price = NAN
        self._price_ts = -(2**63)

    # -- streaming ------------------------------------------------------------------------
    def on_ticks(self, batch: TickBatch) -> None:
        """Add the batch's trades to the profile, fill gaps with them, note the last price."""
        if len(batch) == 0:
            return
        self.profile.add(batch.ts_ns, batch.price, batch.size)
        self.gaps.on_ticks(batch.ts_ns, batch.price)
        self.gaps.expire(self.profile.now_ns)
        if batch.last_ts + 1 >= self._price_ts:
            self._price = batch.last_price
            self._price_ts = batch.last_ts + 1

    def on_candle(self, candle: Candle) -> None:
        """Advance the profile window; update zones and gaps with a closed candle."""
        self.profile.advance(candle.close_ts_ns)
        self.zones.on_candle(candle)
        self.gaps.on_candle(candle)
        if candle.close_ts_ns >= self._price_ts:
            self._price = candle.close
            self._price_ts = candle.close_ts_ns

    def on_block(self, ticks: TickBatch, rows: Sequence[BlockRow]) -> BlockTable:
        """The outputs at every row of a block, as a table computed ahead (see
        :mod:`tradewind.blocks` and :mod:`tradewind_analyzer_profile.table`): the state at
        each row is the one the trades before its close through :meth:`on_ticks` and its
        candles through :meth:`on_candle` give, the same bits; the profile's window moved by
        a :class:`BlockWindow` (every trade binned once per block), zones, gaps and the last
        price by the compiled kernel. The analyzer is left after the block's last trade (the
        trades after the last row folded in as :meth:`on_ticks` does). NaN entries are the
        object :data:`NAN`, as in :meth:`values`."""
        if not len(rows):
            if len(ticks):
                self.on_ticks(ticks)
            return BlockTable({key: [] for key in VALUE_KEYS}, 0)
        ts, price = ticks.ts_ns, ticks.price
        at = RowArrays.of(rows)
        ends, closes = at.ends, at.closes
        profile = self.profile
        now0 = profile.now_ns
        window = BlockWindow(profile, ts, price, ticks.size, ends, closes)
        levels = window.run()
        window.finish()
        arrays = level_columns(levels, profile.bin_ticks, profile.tick_size, profile.volume_quantum)
        zg, (self._price, self._price_ts) = zone_gap_columns(
            self.zones, self.gaps, (self._price, self._price_ts), ts, price, at, window.nows, now0
        )
        for j, key in enumerate(ZONE_GAP_KEYS):
            arrays[key] = np.ascontiguousarray(zg[:, j])
        fed = int(ends[-1])
        if fed < len(ticks):
            self.on_ticks(ticks.slice(fed, len(ticks)))
        # The columns stay float64 arrays; one becomes a list only where a row of it is read.
        return BlockTable.of_arrays({key: arrays[key] for key in VALUE_KEYS}, len(ends))

    # -- reading --------------------------------------------------------------------------
    @property
    def last_price(self) -> float:
        """The latest price seen (last trade or last candle close); NaN before any."""
        return self._price

    def values(self) -> Mapping[str, float]:
        """Current outputs; every key of :data:`VALUE_KEYS`, NaN where undefined.

        The market profile's levels (the value area costs O(bins log bins)) are computed only
        when one of ``poc``/``vah``/``val``/``profile_volume`` is first read from the returned
        mapping; read it before feeding the analyzer more data.
        """
        return _Values(self)

    def _levels(self, out: dict[str, float]) -> None:
        lv = self.profile.levels()
        if lv is not None:
            out["poc"], out["vah"], out["val"] = lv.poc, lv.vah, lv.val
            out["profile_volume"] = lv.volume

    def _zones_and_gaps(self, out: dict[str, float]) -> None:
        price = self._price
        if not math.isnan(price) and price > 0:
            d = self.zones.nearest_demand(price)
            if d is not None:
                out["demand_low"], out["demand_high"] = d.low, d.high
                out["demand_strength"] = float(self.zones.strength(d.tests))
                out["demand_distance_pct"] = max(0.0, price - d.high) / price
            s = self.zones.nearest_supply(price)
            if s is not None:
                out["supply_low"], out["supply_high"] = s.low, s.high
                out["supply_strength"] = float(self.zones.strength(s.tests))
                out["supply_distance_pct"] = max(0.0, s.low - price) / price
        bull = self.gaps.nearest_bullish()
        if bull is not None:
            out["fvg_bull_low"], out["fvg_bull_high"] = bull.open_bottom, bull.open_top
            out["fvg_bull_fill"] = bull.fill
        bear = self.gaps.nearest_bearish()
        if bear is not None:
            out["fvg_bear_low"], out["fvg_bear_high"] = bear.open_bottom, bear.open_top
            out["fvg_bear_fill"] = bear.fill


_LEVEL_KEYS = frozenset({"poc", "vah", "val", "profile_volume"})
_ALL_KEYS = frozenset(VALUE_KEYS)


class _Values(Mapping[str, float]):
    """The profile analyzer's outputs, each group computed on its first read: the POC alone
    (what the default report charts at every close), the other levels (the value area), and
    the zones and gaps. The analyzer must not move on before the mapping is read.

    The POC read alone (once per close in a backtest's walk) makes no mapping of the other
    keys: that dict is built on the first read of any other key, or of the keys."""

    __slots__ = ("_analyzer", "_levels_done", "_out", "_poc", "_zones_done")

    def __init__(self, analyzer: ProfileAnalyzer) -> None:
        self._analyzer = analyzer
        self._out: dict[str, float] | None = None
        self._poc: float | None = None  # read, not yet in _out
        self._levels_done = self._zones_done = False

    def _read_poc(self) -> float:
        poc = self._analyzer.profile.poc()
        return NAN if poc is None else poc

    def _mapping(self) -> dict[str, float]:
        out = self._out
        if out is None:
            out = self._out = dict.fromkeys(VALUE_KEYS, NAN)
            if self._poc is not None:
                out["poc"] = self._poc
        return out

    def __getitem__(self, key: str) -> float:
        if key == "poc":
            if self._out is None:
                if self._poc is None:
                    self._poc = self._read_poc()
                return self._poc
            if self._poc is None and not self._levels_done:
                self._poc = self._out["poc"] = self._read_poc()
            return self._out["poc"]
        out = self._mapping()
        if key in _LEVEL_KEYS:
            if not self._levels_done:
                self._levels_done = True
                self._analyzer._levels(out)
                if self._poc is None:
                    self._poc = out["poc"]
        elif not self._zones_done and key in out:
            self._zones_done = True
            self._analyzer._zones_and_gaps(out)
        return out[key]

    def get(self, key: str, default: Any = None) -> Any:
        """``self[key]``, or ``default`` for a key the analyzer does not report (what
        Mapping.get does, without its exception handling on the engine's every read)."""
        if key == "poc" or key in _ALL_KEYS:
            return self[key]
        return default

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping())

    def __len__(self) -> int:
        return len(VALUE_KEYS)


@hookimpl
def tradewind_register_analyzers(registry: KindRegistry) -> None:
    """Register :class:`ProfileAnalyzer` under the name ``profile``."""
    registry.add(ProfileAnalyzer)
