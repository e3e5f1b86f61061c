"""Analyzers over blocks of ticks: one output row per decision close.

A backtest knows its tape ahead of the engine, and analyzer outputs depend only on the tape,
never on the portfolio. So the engine cuts the replayed tape into blocks (``[run]
block_ticks``), builds the candles of a whole block with one :class:`CandleAggregator` call,
groups them by close time into :class:`BlockRow` s, and advances every analyzer over the
block with :func:`block_rows`: an iterator that yields the analyzer's outputs at each row, in
order, as the engine reaches that decision close. The per-candle path (``on_ticks`` for the
trades before a close, ``on_candle`` for the candles closing there, ``values()``) is the block
of one row: the same kernel, so the outputs are the same bits whatever the block size.

An analyzer declaring the capability ``"block"`` implements
:meth:`tradewind.protocols.BlockAnalyzer.on_block` itself (no per-row dict copies, expensive
outputs computed only when a rule reads them); any other analyzer goes through its
``on_ticks``/``on_candle``/``values`` per row, exactly as in paper and live mode.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from tradewind.model import Candle, TickBatch


@attrs.frozen(kw_only=True, slots=True)
class BlockRow:
    """One decision close inside a block.

    ``close_ns``: the close time shared by ``candles`` (every timeframe closing then, in the
    order the aggregator emits them); ``tick_end``: index into the block's ticks of the first
    trade at or after ``close_ns`` (the trades before it are folded in before the candles).
    """

    close_ns: int
    tick_end: int
    candles: tuple[Candle, ...]


class LazyValues(Mapping[str, float]):
    """``values()`` of an analyzer, called on first read (the analyzer must not move on
    before the mapping is read; block iterators guarantee that until their next row)."""

    __slots__ = ("_got", "_source")

    def __init__(self, source: Callable[[], Mapping[str, float]]) -> None:
        self._source = source
        self._got: Mapping[str, float] | None = None

    def _values(self) -> Mapping[str, float]:
        got = self._got
        if got is None:
            got = self._got = self._source()
        return got

    def __getitem__(self, key: str) -> float:
        return self._values()[key]

    def get(self, key: str, default: Any = None) -> Any:
        """The output ``key``, or ``default``."""
        return self._values().get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values())

    def __len__(self) -> int:
        return len(self._values())


class TableRow(Mapping[str, float]):
    """Row ``r`` of a :class:`BlockTable`: the analyzer's outputs at that close."""

    __slots__ = ("_columns", "_r")

    def __init__(self, columns: Mapping[str, list[float]], r: int) -> None:
        self._columns = columns
        self._r = r

    def __getitem__(self, key: str) -> float:
        return self._columns[key][self._r]

    def get(self, key: str, default: Any = None) -> Any:
        """The output ``key`` at this row, or ``default``."""
        column = self._columns.get(key)
        return default if column is None else column[self._r]

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)


class BlockTable(Iterator[Mapping[str, float]]):
    """An analyzer's outputs over a whole block, computed ahead: one column per output, one
    entry per row. Iterating yields the rows in order (what :func:`block_rows` gives the
    engine); :meth:`arrays` hands the columns to array predicates
    (:mod:`tradewind.trading.gate_arrays`) before the engine reaches the rows.

    An ``on_block`` may return one when its outputs at each row do not depend on anything
    but the block (the analyzer's state after the block is its state after the last row).
    """

    def __init__(
        self,
        columns: Mapping[str, list[float]],
        rows: int,
        arrays: Mapping[str, npt.NDArray[np.float64]] | None = None,
    ) -> None:
        for name, column in columns.items():
            if len(column) != rows:
                raise ValueError(f"block table column '{name}' has {len(column)} rows, not {rows}")
        if arrays is not None and (
            arrays.keys() != columns.keys() or any(len(a) != rows for a in arrays.values())
        ):
            raise ValueError("block table arrays must have the columns' names and row count")
        self.columns = columns
        self.rows = rows
        self._next = 0
        #: The columns as float64 arrays: given (the same floats) or made on first use.
        self._arrays = arrays

    def __next__(self) -> Mapping[str, float]:
        r = self._next
        if r >= self.rows:
            raise StopIteration
        self._next = r + 1
        return TableRow(self.columns, r)

    @property
    def next_row(self) -> int:
        """The index of the row the iterator yields next."""
        return self._next

    def row(self, r: int) -> TableRow:
        """Row ``r`` (at or after :attr:`next_row`), the iterator moved past it: what
        iterating on to it yields last, without the rows before it."""
        if not self._next <= r < self.rows:
            raise ValueError(f"block table: row {r} asked for, next is {self._next} of {self.rows}")
        self._next = r + 1
        return TableRow(self.columns, r)

    def arrays(self) -> Mapping[str, npt.NDArray[np.float64]]:
        """The columns as float64 arrays (the same floats; NaN where the column has NaN)."""
        if self._arrays is None:
            self._arrays = {k: np.array(v, dtype=np.float64) for k, v in self.columns.items()}
        return self._arrays


def make_rows(ticks: TickBatch, candles: Sequence[Candle]) -> list[BlockRow]:
    """The rows of a block: ``candles`` (sorted by close time, as the aggregator returns
    them) grouped by close time, each with the index of its first trade at or after it."""
    if not candles:
        return []
    groups: list[tuple[int, list[Candle]]] = []
    for c in candles:
        close = c.open_ts_ns + c.timeframe_ns
        if groups and groups[-1][0] == close:
            groups[-1][1].append(c)
        else:
            groups.append((close, [c]))
    closes = np.fromiter((g[0] for g in groups), dtype=np.int64, count=len(groups))
    ends = ticks.ts_ns.searchsorted(closes, side="left").tolist()
    return [
        BlockRow(close_ns=close, tick_end=end, candles=tuple(cs))
        for (close, cs), end in zip(groups, ends, strict=True)
    ]


def per_candle_rows(
    analyzer: Any, ticks: TickBatch, rows: Sequence[BlockRow]
) -> Iterator[Mapping[str, float]]:
    """The block of an analyzer without ``on_block``: its per-candle path, row by row.

    Trades go to ``on_ticks`` (capability ``"ticks"``) in the pieces between rows; the trades
    after the last row are folded in when the iterator is exhausted.
    """
    takes_ticks = "ticks" in analyzer.capabilities
    start = 0
    for row in rows:
        if takes_ticks and row.tick_end > start:
            analyzer.on_ticks(ticks.slice(start, row.tick_end))
            start = row.tick_end
        for c in row.candles:
            analyzer.on_candle(c)
        yield LazyValues(analyzer.values)
    if takes_ticks and start < len(ticks):
        analyzer.on_ticks(ticks.slice(start, len(ticks)))


def block_rows(
    analyzer: Any, ticks: TickBatch, rows: Sequence[BlockRow]
) -> Iterator[Mapping[str, float]]:
    """Advance ``analyzer`` over a block: its ``on_block`` (capability ``"block"``) or the
    per-candle path. Exhaust the iterator to fold in the trades after the last row."""
    if "block" in analyzer.capabilities:
        return iter(analyzer.on_block(ticks, rows))
    return per_candle_rows(analyzer, ticks, rows)


@attrs.define
class TapeBlock:
    """The engine's block of one instrument: trades ``[start, end)`` of the current feed
    batch, their candles as rows not yet reached, and each analyzer's row iterator."""

    end: int
    rows: deque[BlockRow]
    iters: list[tuple[str, Iterator[Mapping[str, float]]]]
    #: Batch index of the block's first trade (a row's ``tick_end`` counts from it).
    start: int = 0
    #: Rows the block opened with (the next row's index is ``total - len(rows)``).
    total: int = 0

    @classmethod
    def open(
        cls,
        ticks: TickBatch,
        end: int,
        candles: Sequence[Candle],
        analyzers: Sequence[tuple[str, Any]],
    ) -> TapeBlock:
        """A block over ``ticks`` (ending at batch index ``end``) whose closed candles are
        ``candles``."""
        rows = make_rows(ticks, candles)
        iters = [(name, block_rows(a, ticks, rows)) for name, a in analyzers]
        return cls(end=end, rows=deque(rows), iters=iters, start=end - len(ticks), total=len(rows))

    def closes_before(self, t: int) -> list[int]:
        """Close times of the rows not yet reached that fall before ``t``.

        The rows are in close-time order (:func:`make_rows`), so this reads only the rows
        before ``t`` (not the whole block's rest, which the stepped closes around each
        position used to pay per close)."""
        out: list[int] = []
        for r in self.rows:
            if r.close_ns >= t:
                break
            out.append(r.close_ns)
        return out

    def take(self, t_close: int) -> tuple[list[Candle], dict[str, Mapping[str, float]]]:
        """The candles closing at or before ``t_close`` and every analyzer's outputs there
        (empty when no row is due)."""
        rows = self.rows
        candles: list[Candle] = []
        values: dict[str, Mapping[str, float]] = {}
        while rows and rows[0].close_ns <= t_close:
            row = rows.popleft()
            candles.extend(row.candles)
            for name, it in self.iters:
                try:
                    values[name] = next(it)
                except StopIteration:
                    raise RuntimeError(
                        f"analyzer '{name}': its block ended before the row at "
                        f"{row.close_ns} ns; on_block must yield once per row it is given"
                    ) from None
        return candles, values

    def finish(self) -> None:
        """Fold the trades after the last row into every analyzer (exhaust the iterators)."""
        for _, it in self.iters:
            for _ in it:
                pass
        self.iters = []
