"""The order-flow outputs at every row of a block, vectorised over the block's candles.

:meth:`OrderFlowAnalyzer.on_candle` folds one candle at a time; here the candles of a whole
block are gathered once (one pass over the rows' candles in Python, the only per-candle
Python left) and every output is computed column-wise with numpy, with the same IEEE
operations in the same order per value, so the same bits:

- ``imbalance``, ``delta`` and the average sizes are functions of one candle (a division, a
  subtraction, a comparison); a row takes each timeframe's latest candle at or before it
  (forward fill from the analyzer's state before the block);
- ``cvd`` is a running sum: it stays a Python loop of float additions over the smallest
  timeframe's candles (:class:`~tradewind_analyzer_orderflow.cvd.CumulativeDelta`, the
  per-candle code itself), one per 1m candle;
- the cascade and its reversals compare the forward-filled imbalances of adjacent
  timeframes, row by row as arrays.

tests/test_block.py compares every output after every row, bit for bit, with the per-candle
path (blocks of 1, 7, 100 and 1,000,000 rows, the recorded sample and synthetic tapes at ~80
and ~1,600 trades a minute).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from tradewind.blocks import BlockRow, BlockTable

if TYPE_CHECKING:
    from tradewind_analyzer_orderflow.plugin import OrderFlowAnalyzer

NAN = math.nan
_F64 = npt.NDArray[np.float64]


def _as_list(values: _F64) -> list[float]:
    """The column as Python floats, NaN as the one object ``math.nan`` (what the per-candle
    path reports, so lists of outputs compare equal)."""
    out: list[float] = values.tolist()
    if np.isnan(values).any():
        out = [NAN if v != v else v for v in out]
    return out


def _falling(imbs: _F64) -> npt.NDArray[np.bool_]:
    """Per row: ``imbs[0] > imbs[1] > ...`` (rows are columns of ``imbs``)."""
    return np.all(imbs[:-1] > imbs[1:], axis=0)


def _rising(imbs: _F64) -> npt.NDArray[np.bool_]:
    return np.all(imbs[:-1] < imbs[1:], axis=0)


def block_table(analyzer: OrderFlowAnalyzer, rows: Sequence[BlockRow]) -> BlockTable:
    """The analyzer's outputs after each of ``rows``; the analyzer ends in the state of its
    last row, as if every candle had gone through ``on_candle``."""
    cfg = analyzer.config
    n = len(rows)
    slots = analyzer._slot
    k = len(analyzer.timeframes_ns)
    # One pass over the candles: per timeframe slot, the row of each candle and its split.
    at: list[list[int]] = [[] for _ in range(k)]
    split: list[list[tuple[float, float, int, int]]] = [[] for _ in range(k)]
    cvd = analyzer._cvd
    cvd_rows: list[int] = []
    cvd_values: list[float] = []
    for r, row in enumerate(rows):
        for c in row.candles:
            slot = slots.get(c.timeframe_ns)
            if slot is None:
                continue
            buy, sell = c.buy_volume, c.sell_volume
            at[slot].append(r)
            split[slot].append((buy, sell, c.buy_trades, c.sell_trades))
            if slot == 0:
                cvd_rows.append(r)
                cvd_values.append(cvd.update(c.open_ts_ns, buy - sell))
    values = analyzer._values
    columns: dict[str, list[float]] = {}
    arrays: dict[str, _F64] = {}
    row_index = np.arange(n)
    imbs = np.empty((k, n), dtype=np.float64)
    for slot, keys in enumerate(analyzer._keys):
        before = (
            analyzer._imbalances[slot],
            values[keys.delta],
            values[keys.avg_buy],
            values[keys.avg_sell],
        )
        names = (keys.imbalance, keys.delta, keys.avg_buy, keys.avg_sell)
        if not at[slot]:
            for name, v in zip(names, before, strict=True):
                arrays[name] = np.full(n, v, dtype=np.float64)
                columns[name] = [v] * n
            imbs[slot] = before[0]
            continue
        got = np.array(split[slot], dtype=np.float64)
        bv, sv, bn, sn = got[:, 0], got[:, 1], got[:, 2], got[:, 3]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = bv / sv
            imbalance = np.where(
                sv > 0.0,
                np.where(ratio < cfg.max_imbalance, ratio, cfg.max_imbalance),
                np.where(bv > 0.0, cfg.max_imbalance, 1.0),
            )
            outs = (
                imbalance,
                bv - sv,
                np.where(bn > 0, bv / bn, NAN),
                np.where(sn > 0, sv / sn, NAN),
            )
        # Row r takes the slot's last candle at or before it; -1 = none yet in this block.
        last = np.searchsorted(np.array(at[slot]), row_index, side="right") - 1
        seen = last >= 0
        pick = np.maximum(last, 0)
        for name, out, v in zip(names, outs, before, strict=True):
            col = np.where(seen, out[pick], v)
            arrays[name] = col
            columns[name] = _as_list(col)
        imbs[slot] = arrays[keys.imbalance]
        if n:
            analyzer._imbalances[slot] = columns[keys.imbalance][-1]
    # CVD: the running sums computed above, forward-filled over the rows.
    if cvd_rows:
        last = np.searchsorted(np.array(cvd_rows), row_index, side="right") - 1
        sums = np.array(cvd_values, dtype=np.float64)
        col = np.where(last >= 0, sums[np.maximum(last, 0)], values["cvd"])
    else:
        col = np.full(n, values["cvd"], dtype=np.float64)
    arrays["cvd"] = col
    columns["cvd"] = _as_list(col)
    # The cascade and its reversals from the forward-filled imbalances (NaN until every
    # timeframe has had a candle, as on_candle's). Rows before the block's first candle
    # keep the values of before the block: those of the same imbalances.
    with np.errstate(invalid="ignore"):
        undefined = np.isnan(imbs).any(axis=0) if k else np.ones(n, dtype=bool)
        if k:
            fastest = imbs[0]
            falling, rising = _falling(imbs), _rising(imbs)
            cascade = np.where(
                (fastest > cfg.cascade_long_min) & falling,
                1.0,
                np.where((fastest < cfg.cascade_short_max) & rising, -1.0, 0.0),
            )
            rev_long = np.where((fastest < cfg.reversal_long_max) & rising, 1.0, 0.0)
            rev_short = np.where((fastest > cfg.reversal_short_min) & falling, 1.0, 0.0)
        else:
            cascade = rev_long = rev_short = np.zeros(n)
    first = min((a[0] for a in at if a), default=n)  # the block's first configured candle
    for name, col in (
        ("cascade", cascade),
        ("cascade_reversal_long", rev_long),
        ("cascade_reversal_short", rev_short),
    ):
        col = np.where(undefined, NAN, col)
        col[:first] = values[name]
        arrays[name] = col
        columns[name] = _as_list(col)
    # The analyzer's state after the last row (its values() and the next on_candle's inputs).
    if n:
        for name in values:
            values[name] = columns[name][-1]
    ordered = {name: columns[name] for name in values}
    return BlockTable(ordered, n, {name: arrays[name] for name in values})
