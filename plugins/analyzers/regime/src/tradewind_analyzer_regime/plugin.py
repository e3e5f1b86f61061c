"""The regime analyzer and its registration hook.

Entry point ``tradewind.analyzers: regime``. See docs/analyzers/regime.md for every output,
its formula, its warm-up and its cost.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np
from tradewind.blocks import BlockRow, BlockRows, BlockTable
from tradewind.hookspecs import hookimpl
from tradewind.model import Candle, Instrument, TickBatch
from tradewind.registry import KindRegistry
from tradewind.timeframes import parse_timeframe

from tradewind_analyzer_regime.config import RegimeConfig
from tradewind_analyzer_regime.kernel import N_OUT, RegimeKernel, todict

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
        self._kernel = RegimeKernel(config)
        #: The outputs as :meth:`on_block` left them; None when the kernel's output row is
        #: newer (a candle through :meth:`on_candle`): read from it then.
        self._values: dict[str, float] | None = dict.fromkeys(KEYS, NAN)

    def on_candle(self, candle: Candle) -> None:
        """Fold one closed candle of the configured timeframe in; ignore other timeframes.

        The compiled kernel's step (:mod:`tradewind_analyzer_regime.kernel`), the same one
        :meth:`on_block` runs over a block's candles: the same bits either way."""
        if candle.timeframe_ns != self.timeframe_ns:
            return
        self._kernel.step(candle.high, candle.low, candle.close)
        # The outputs are the kernel's row now: made into a dict only when read (values()).
        self._values = None

    def values(self) -> Mapping[str, float]:
        """A snapshot of every output (the keys of :data:`KEYS`; NaN = not yet defined)."""
        got = self._values
        if got is None:
            return self._kernel.values(KEYS)  # a new dict at each call
        return dict(got)

    # -- blocks (backtests) ---------------------------------------------------------------
    def on_block(self, ticks: TickBatch, rows: Sequence[BlockRow]) -> BlockTable:
        """The outputs at every row of a block, as a table computed ahead (see
        :mod:`tradewind.blocks`): the kernel of :meth:`on_candle` run over the block's candles
        of the configured timeframe in one call; a row without such a candle repeats the
        outputs before it. NaN entries are the object ``math.nan``, as in :meth:`values`."""
        tf = self.timeframe_ns
        n = len(rows)
        if isinstance(rows, BlockRows):
            # The block's arrays: this timeframe's candles and their rows, no Python per row.
            at, got = rows.of_timeframe(tf)
            hlc = np.empty((3, len(got)), dtype=np.float64)
            hlc[0], hlc[1], hlc[2] = got["high"], got["low"], got["close"]
            m = len(got)
            # Per row: index of its latest candle of the timeframe, -1 if none yet.
            last = np.searchsorted(at, np.arange(n), side="right") - 1
        else:
            mine: list[tuple[float, float, float]] = []
            last_l: list[int] = []
            idx = -1
            for row in rows:
                for c in row.candles:
                    if c.timeframe_ns == tf:
                        mine.append((c.high, c.low, c.close))
                        idx = len(mine) - 1
                last_l.append(idx)
            m = len(mine)
            # Rows high, low, close: contiguous.
            hlc = np.array(mine, dtype=np.float64).reshape(-1, 3).T.copy()
            last = np.array(last_l, dtype=np.int64)
        now = self.values()
        before = np.array([now[k] for k in KEYS], dtype=np.float64)
        if m:
            out = self._kernel.run(hlc[0], hlc[1], hlc[2])
            outputs = np.vstack((np.asarray(out, dtype=np.float64).reshape(-1, N_OUT), before))
            self._values = todict(out, (m - 1) * N_OUT, KEYS, NAN)
        else:
            outputs = before.reshape(1, N_OUT)
        table = outputs[last] if n else outputs[:0]  # -1: before
        # The columns' Python lists are made on first read (BlockTable.of_arrays).
        arrays = {key: np.ascontiguousarray(table[:, j]) for j, key in enumerate(KEYS)}
        return BlockTable.of_arrays(arrays, n)


@hookimpl
def tradewind_register_analyzers(registry: KindRegistry) -> None:
    """Register :class:`RegimeAnalyzer`."""
    registry.add(RegimeAnalyzer)
