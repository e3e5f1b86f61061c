"""The ``microstructure`` analyzer: what the last closed 1m candle says about the bounce.

Registered through the ``tradewind.analyzers`` entry point ``microstructure``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np
from tradewind import hookimpl
from tradewind.blocks import BlockRow, BlockRows, BlockTable
from tradewind.model import Candle, Instrument, TickBatch
from tradewind.registry import KindRegistry

from tradewind_analyzer_microstructure.config import MicrostructureConfig
from tradewind_analyzer_microstructure.kernel import MicroKernel

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
        self._kernel = MicroKernel(config)

    def on_candle(self, candle: Candle) -> None:
        """Measure a closed candle of the configured timeframe (others are ignored).

        The compiled kernel's step (:mod:`tradewind_analyzer_microstructure.kernel`), the same
        one :meth:`on_block` runs: the same bits in paper, live and backtests."""
        if candle.timeframe_ns != self._tf:
            return
        self._kernel.step(candle.open, candle.high, candle.low, candle.close, candle.volume)

    def on_ticks(self, batch: TickBatch) -> None:
        """Not used: the analyzer works on closed candles only (no ``"ticks"`` capability)."""

    def values(self) -> Mapping[str, float]:
        """Current outputs; every key of :data:`VALUE_KEYS`, NaN where undefined."""
        return self._kernel.values(VALUE_KEYS)

    # -- blocks (backtests) ---------------------------------------------------------------
    def on_block(self, ticks: TickBatch, rows: Sequence[BlockRow]) -> BlockTable:
        """The outputs at every row of a block, as a table computed ahead (see
        :mod:`tradewind.blocks`): the same kernel step as :meth:`on_candle`, its 13 output
        floats copied after each row, so the engine's gates can judge a whole block at once
        (the rejection gate of the default preset). NaN entries are the object
        ``math.nan``, as in :meth:`values`."""
        tf = self._tf
        kernel = self._kernel
        n = len(rows)
        if isinstance(rows, BlockRows):
            # The block's arrays: the kernel's run over this timeframe's candles (one C call
            # between the exact recomputations), each row the outputs after its latest one.
            at, got = rows.of_timeframe(tf)
            before = kernel.out.copy()
            ohlcv = np.empty((5, len(got)), dtype=np.float64)
            for j, field in enumerate(("open", "high", "low", "close", "volume")):
                ohlcv[j] = got[field]
            outputs = np.vstack((kernel.run(*ohlcv), before))
            last = np.searchsorted(at, np.arange(n), side="right") - 1  # -1: before
            table = outputs[last]
        else:
            step = kernel.step
            out = kernel.out
            table = np.empty((n, len(VALUE_KEYS)), dtype=np.float64)
            for r, row in enumerate(rows):
                for c in row.candles:
                    if c.timeframe_ns == tf:
                        step(c.open, c.high, c.low, c.close, c.volume)
                table[r] = out
        # The columns' Python lists are made on first read (BlockTable.of_arrays).
        arrays = {key: np.ascontiguousarray(table[:, j]) for j, key in enumerate(VALUE_KEYS)}
        return BlockTable.of_arrays(arrays, n)


@hookimpl
def tradewind_register_analyzers(registry: KindRegistry) -> None:
    """Register :class:`MicrostructureAnalyzer` under the name ``microstructure``."""
    registry.add(MicrostructureAnalyzer)
