"""The ``microstructure`` analyzer: what the last closed 1m candle says about the bounce.

Registered through the ``tradewind.analyzers`` entry point ``microstructure``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import ClassVar

from tradewind import hookimpl
from tradewind.blocks import BlockRow, LazyValues
from tradewind.model import Candle, Instrument, TickBatch
from tradewind.registry import KindRegistry

from tradewind_analyzer_microstructure.config import MicrostructureConfig
from tradewind_analyzer_microstructure.rolling import (
    Lag1Autocorrelation,
    RollingMoments,
    RollingSum,
)
from tradewind_analyzer_microstructure.shape import CandleShape, candle_shape

NAN = math.nan

#: Every key :meth:`MicrostructureAnalyzer.values` reports, always all of them.
VALUE_KEYS: tuple[str, ...] = (
    "lower_wick",
    "upper_wick",
    "body",
    "close_position",
    "bounce_long",
    "bounce_short",
    "rejection",
    "volume_spike",
    "volume_mean",
    "zscore",
    "close_mean",
    "close_std",
    "autocorr",
)


class MicrostructureAnalyzer:
    """Candle shape, volume spike, z-score of the close and lag-1 autocorrelation of returns.

    Outputs (see docs/analyzers/microstructure.md): the shape of the last closed candle of the
    configured timeframe (``lower_wick``, ``upper_wick``, ``body``, ``close_position``,
    ``bounce_long``, ``bounce_short``, ``rejection``), ``volume_spike`` and ``volume_mean``,
    ``zscore`` with ``close_mean`` and ``close_std``, and ``autocorr``. Each candle costs O(1).
    """

    name: ClassVar[str] = "microstructure"
    config_class: ClassVar[type] = MicrostructureConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"block"})

    @classmethod
    def outputs(cls, config: MicrostructureConfig) -> frozenset[str]:
        """Every key :meth:`values` reports (:data:`VALUE_KEYS`, whatever the config)."""
        return frozenset(VALUE_KEYS)

    def __init__(self, config: MicrostructureConfig, instrument: Instrument) -> None:
        self.config = config
        self.instrument = instrument
        self._tf = config.timeframe_ns
        self._volumes = RollingSum(config.volume_period)
        self._closes = RollingMoments(config.zscore_period)
        self._autocorr = Lag1Autocorrelation(config.autocorr_window)
        self._last_close: float | None = None
        self._shape: CandleShape | None = None
        self._spike = NAN
        self._volume_mean = NAN
        self._zscore = NAN

    def on_candle(self, candle: Candle) -> None:
        """Measure a closed candle of the configured timeframe (others are ignored)."""
        if candle.timeframe_ns != self._tf:
            return
        cfg = self.config
        self._shape = candle_shape(
            candle,
            wick_weight=cfg.bounce_wick_weight,
            body_ratio=cfg.rejection_body_ratio,
            close_min=cfg.rejection_close_min,
        )
        # The spike compares with the candles *before* this one.
        mean = self._volumes.mean
        self._volume_mean = mean
        self._spike = candle.volume / mean if mean > 0.0 else NAN
        self._volumes.push(candle.volume)

        self._closes.push(candle.close)
        if self._closes.full:
            std = self._closes.std
            # A flat window has std exactly 0 (see rolling.py): the close is at the mean.
            self._zscore = self._closes.deviation(candle.close) / std if std > 0.0 else 0.0
        if self._last_close is not None and self._last_close > 0.0 and candle.close > 0.0:
            self._autocorr.push(math.log(candle.close / self._last_close))
        self._last_close = candle.close

    def on_ticks(self, batch: TickBatch) -> None:
        """Not used: the analyzer works on closed candles only (no ``"ticks"`` capability)."""

    def values(self) -> Mapping[str, float]:
        """Current outputs; every key of :data:`VALUE_KEYS`, NaN where undefined."""
        s = self._shape
        full = self._closes.full
        return {
            "lower_wick": s.lower_wick if s else NAN,
            "upper_wick": s.upper_wick if s else NAN,
            "body": s.body if s else NAN,
            "close_position": s.close_position if s else NAN,
            "bounce_long": s.bounce_long if s else NAN,
            "bounce_short": s.bounce_short if s else NAN,
            "rejection": s.rejection if s else NAN,
            "volume_spike": self._spike,
            "volume_mean": self._volume_mean,
            "zscore": self._zscore,
            "close_mean": self._closes.mean if full else NAN,
            "close_std": self._closes.std if full else NAN,
            "autocorr": self._autocorr.value,
        }

    # -- blocks (backtests) ---------------------------------------------------------------
    def on_block(self, ticks: TickBatch, rows: Sequence[BlockRow]) -> Iterator[Mapping[str, float]]:
        """The outputs at each row of a block (see :mod:`tradewind.blocks`): the same kernel
        as :meth:`on_candle`; :meth:`values` is built only for rows whose outputs are read."""
        on_candle = self.on_candle
        for row in rows:
            for c in row.candles:
                on_candle(c)
            yield LazyValues(self.values)


@hookimpl
def tradewind_register_analyzers(registry: KindRegistry) -> None:
    """Register :class:`MicrostructureAnalyzer` under the name ``microstructure``."""
    registry.add(MicrostructureAnalyzer)
