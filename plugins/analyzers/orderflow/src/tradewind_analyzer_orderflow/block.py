"""The order-flow outputs at every row of a block, vectorised over the block's candles.

:meth:`OrderFlowAnalyzer.on_candle` folds one candle at a time; here the candles of a whole
block are gathered once — read by timeframe from the block's arrays
(:class:`tradewind.blocks.BlockRows`, what the engine passes), or in one pass over the rows'
candles in Python for any other ``Sequence[BlockRow]`` — and every output is computed
column-wise with numpy, with the same IEEE operations in the same order per value, so the
same bits:

- ``imbalance``, ``delta`` and the average sizes are functions of one candle (a division, a
  subtraction, a comparison); a row takes each timeframe's latest candle at or before it
  (forward fill from the analyzer's state before the block);
- ``cvd`` is a running sum over the smallest timeframe's candles: from the arrays, one
  sequential ``np.add.accumulate`` per reset period (:func:`_cvd_sums`: the additions of
  :class:`~tradewind_analyzer_orderflow.cvd.CumulativeDelta` in its order); from row
  objects, ``CumulativeDelta.update`` per candle;
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
from tradewind.blocks import BlockRow, BlockRows, BlockTable

from tradewind_analyzer_orderflow.cvd import CumulativeDelta

if TYPE_CHECKING:
    from tradewind_analyzer_orderflow.plugin import OrderFlowAnalyzer

NAN = math.nan
_F64 = npt.NDArray[np.float64]


def _cvd_sums(cvd: CumulativeDelta, open_ts: npt.NDArray[np.int64], deltas: _F64) -> _F64:
    """``cvd.update(open_ts[i], deltas[i])`` for every candle, in order, as one array: the
    running sum restarts at 0.0 at each new period (``reset_ns``) and starts from 0.0 when
    the CVD is NaN, each segment a sequential ``np.add.accumulate`` (the same float
    additions in the same order as ``value += delta``, so the same bits); ``cvd`` is left as
    the last update leaves it."""
    m = len(deltas)
    starts = [0]
    value = cvd.value
    if cvd.reset_ns is not None:
        periods = open_ts // cvd.reset_ns
        new = np.flatnonzero(periods[1:] != periods[:-1]) + 1
        starts.extend(new.tolist())
        if int(periods[0]) != cvd._period:
            value = 0.0  # the first candle opens a new period
        cvd._period = int(periods[-1])
    if value != value:
        value = 0.0
    out = np.empty(m, dtype=np.float64)
    buf = np.empty(m + 1, dtype=np.float64)
    for j, lo in enumerate(starts):
        hi = starts[j + 1] if j + 1 < len(starts) else m
        buf[0] = value if j == 0 else 0.0
        buf[1 : hi - lo + 1] = deltas[lo:hi]
        np.add.accumulate(buf[: hi - lo + 1], out=buf[: hi - lo + 1])
        out[lo:hi] = buf[1 : hi - lo + 1]
    cvd.value = float(out[-1])
    return out


def _last(values: _F64) -> float:
    """The column's last entry as a Python float, NaN as the object ``math.nan``."""
    v = float(values[-1])
    return NAN if v != v else v


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
    cvd = analyzer._cvd
    # Per timeframe slot: the row of each candle (ascending) and its split (buy volume,
    # sell volume, buy trades, sell trades as float64 columns).
    at: list[npt.NDArray[np.intp]] = []
    split: list[_F64] = []
    cvd_rows: npt.NDArray[np.intp] | list[int]
    cvd_values: list[float] | _F64 = []
    if isinstance(rows, BlockRows):
        # The block's candles as arrays: no Python per row or per candle.
        for tf in analyzer.timeframes_ns:
            where, got = rows.of_timeframe(tf)
            at.append(where)
            cols = np.empty((len(got), 4), dtype=np.float64)
            cols[:, 0] = got["buy_volume"]
            cols[:, 1] = got["sell_volume"]
            cols[:, 2] = got["buy_trades"]
            cols[:, 3] = got["sell_trades"]
            split.append(cols)
        cvd_rows = at[0] if k else []
        if k and len(at[0]):
            _, got = rows.of_timeframe(analyzer.timeframes_ns[0])
            cvd_values = _cvd_sums(cvd, got["open_ts_ns"], split[0][:, 0] - split[0][:, 1])
    else:
        # One pass over the row objects' candles (any Sequence[BlockRow]).
        at_l: list[list[int]] = [[] for _ in range(k)]
        split_l: list[list[tuple[float, float, int, int]]] = [[] for _ in range(k)]
        cvd_rows = []
        cvd_list: list[float] = []
        cvd_values = cvd_list
        for r, row in enumerate(rows):
            for c in row.candles:
                slot = slots.get(c.timeframe_ns)
                if slot is None:
                    continue
                buy, sell = c.buy_volume, c.sell_volume
                at_l[slot].append(r)
                split_l[slot].append((buy, sell, c.buy_trades, c.sell_trades))
                if slot == 0:
                    cvd_rows.append(r)
                    cvd_list.append(cvd.update(c.open_ts_ns, buy - sell))
        at = [np.array(a, dtype=np.intp) for a in at_l]
        split = [np.array(sp, dtype=np.float64).reshape(-1, 4) for sp in split_l]
    values = analyzer._values
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
        if not len(at[slot]):
            for name, v in zip(names, before, strict=True):
                arrays[name] = np.full(n, v, dtype=np.float64)
            imbs[slot] = before[0]
            continue
        got = split[slot]
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
        last = np.searchsorted(at[slot], row_index, side="right") - 1
        seen = last >= 0
        pick = np.maximum(last, 0)
        for name, out, v in zip(names, outs, before, strict=True):
            col = np.where(seen, out[pick], v)
            arrays[name] = col
        imbs[slot] = arrays[keys.imbalance]
        if n:
            analyzer._imbalances[slot] = _last(arrays[keys.imbalance])
    # CVD: the running sums computed above, forward-filled over the rows.
    if len(cvd_rows):
        last = np.searchsorted(np.asarray(cvd_rows), row_index, side="right") - 1
        sums = np.array(cvd_values, dtype=np.float64)
        col = np.where(last >= 0, sums[np.maximum(last, 0)], values["cvd"])
    else:
        col = np.full(n, values["cvd"], dtype=np.float64)
    arrays["cvd"] = col
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
    first = min((int(a[0]) for a in at if len(a)), default=n)  # the block's first configured candle
    for name, col in (
        ("cascade", cascade),
        ("cascade_reversal_long", rev_long),
        ("cascade_reversal_short", rev_short),
    ):
        col = np.where(undefined, NAN, col)
        col[:first] = values[name]
        arrays[name] = col
    # The analyzer's state after the last row (its values() and the next on_candle's inputs).
    if n:
        for name in values:
            values[name] = _last(arrays[name])
    # The Python lists of the columns are made on first read (BlockTable.of_arrays).
    return BlockTable.of_arrays({name: arrays[name] for name in values}, n)
