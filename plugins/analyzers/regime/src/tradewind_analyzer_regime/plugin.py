"""The regime analyzer and its registration hook.

Entry point ``tradewind.analyzers: regime``. See docs/analyzers/regime.md for every output,
its formula, its warm-up and its cost.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import ClassVar

from tradewind.blocks import BlockRow
from tradewind.hookspecs import hookimpl
from tradewind.model import Candle, Instrument, TickBatch
from tradewind.registry import KindRegistry
from tradewind.timeframes import parse_timeframe

from tradewind_analyzer_regime.adx import Adx
from tradewind_analyzer_regime.config import RegimeConfig
from tradewind_analyzer_regime.ema import Ema
from tradewind_analyzer_regime.hurst import RollingHurst
from tradewind_analyzer_regime.mean_reversion import RollingMeanReversion
from tradewind_analyzer_regime.rsi import Rsi
from tradewind_analyzer_regime.structure import Structure
from tradewind_analyzer_regime.true_range import Atr
from tradewind_analyzer_regime.verdict import alignment, regime

NAN = math.nan

#: Every key :meth:`RegimeAnalyzer.values` reports, in a stable order.
KEYS: tuple[str, ...] = (
    "adx",
    "plus_di",
    "minus_di",
    "atr",
    "atr_pct",
    "ema_fast",
    "ema_slow",
    "ema_alignment",
    "rsi",
    "hurst",
    "mean_reversion",
    "structure",
    "regime",
)


class RegimeAnalyzer:
    """Trend strength, volatility, persistence and structure on one timeframe, and a verdict.

    Reads only candles of ``config.timeframe`` (default 15m, the strategy's longest). Outputs
    ``adx``, ``plus_di``, ``minus_di``, ``atr``, ``atr_pct`` (ATR / close * 100), ``ema_fast``,
    ``ema_slow``, ``ema_alignment``, ``rsi``, ``hurst``, ``mean_reversion``, ``structure`` and
    ``regime`` (+1 trending up, -1 trending down, 0 ranging). ADX, ATR, EMA and RSI follow
    TA-Lib's definitions and seeding exactly. Every update is O(1) but for the Hurst exponent,
    O(number of lags) (10 by default).
    """

    name: ClassVar[str] = "regime"
    config_class: ClassVar[type] = RegimeConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"candles", "block"})

    @classmethod
    def outputs(cls, config: RegimeConfig) -> frozenset[str]:
        """Every key :meth:`values` reports (:data:`KEYS`, whatever the config)."""
        return frozenset(KEYS)

    def __init__(self, config: RegimeConfig, instrument: Instrument) -> None:
        self.config = config
        self.instrument = instrument
        self.timeframe_ns = parse_timeframe(config.timeframe)
        self._adx = Adx(config.adx_period)
        self._atr = Atr(config.atr_period)
        self._rsi = Rsi(config.rsi_period)
        self._ema_fast = Ema(config.ema_fast)
        self._ema_slow = Ema(config.ema_slow)
        self._hurst = RollingHurst(config.hurst_window, config.hurst_min_lag, config.hurst_max_lag)
        self._mr = RollingMeanReversion(config.mean_reversion_window, config.mean_reversion_horizon)
        self._structure = Structure(config.structure_candles)
        self._values: dict[str, float] = dict.fromkeys(KEYS, NAN)

    def on_candle(self, candle: Candle) -> None:
        """Fold one closed candle of the configured timeframe in; ignore other timeframes."""
        if candle.timeframe_ns != self.timeframe_ns:
            return
        high, low, close = candle.high, candle.low, candle.close
        adx = self._adx.update(high, low, close)
        atr = self._atr.update(high, low, close)
        rsi = self._rsi.update(close)
        fast = self._ema_fast.update(close)
        slow = self._ema_slow.update(close)
        structure = self._structure.update(high, low)
        if close > 0.0:
            log_close = math.log(close)
            self._hurst.push(log_close)
            self._mr.push(log_close)
        hurst = self._hurst.value
        mr = self._mr.value
        atr_pct = 100.0 * atr / close if close > 0.0 else NAN
        aligned = alignment(close, fast, slow)
        v = self._values
        v["adx"] = adx
        v["plus_di"] = self._adx.plus_di
        v["minus_di"] = self._adx.minus_di
        v["atr"] = atr
        v["atr_pct"] = atr_pct
        v["ema_fast"] = fast
        v["ema_slow"] = slow
        v["ema_alignment"] = aligned
        v["rsi"] = rsi
        v["hurst"] = hurst
        v["mean_reversion"] = mr
        v["structure"] = structure
        v["regime"] = regime(
            self.config,
            adx=adx,
            hurst=hurst,
            mean_reversion=mr,
            ema_alignment=aligned,
            atr_pct=atr_pct,
            structure=structure,
        )

    def values(self) -> Mapping[str, float]:
        """A snapshot of every output (the keys of :data:`KEYS`; NaN = not yet defined)."""
        return dict(self._values)

    # -- blocks (backtests) ---------------------------------------------------------------
    def on_block(self, ticks: TickBatch, rows: Sequence[BlockRow]) -> Iterator[Mapping[str, float]]:
        """The outputs at each row of a block (see :mod:`tradewind.blocks`): the same kernel
        as :meth:`on_candle`, without a copy of the outputs per row."""
        view = MappingProxyType(self._values)
        on_candle = self.on_candle
        for row in rows:
            for c in row.candles:
                on_candle(c)
            yield view


@hookimpl
def tradewind_register_analyzers(registry: KindRegistry) -> None:
    """Register :class:`RegimeAnalyzer`."""
    registry.add(RegimeAnalyzer)
