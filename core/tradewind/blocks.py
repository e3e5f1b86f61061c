"""Analyzers over blocks of ticks: one output row per decision close.

A backtest knows its tape ahead of the engine, and analyzer outputs depend only on the tape,
never on the portfolio. So the engine cuts the replayed tape into blocks (``[run]
block_ticks``), builds the candles of a whole block with one :class:`CandleAggregator` call
(``update_arrays``: no :class:`Candle` objects), groups them by close time into the rows of a
:class:`BlockRows` (arrays; a :class:`BlockRow` with its candles is made only for a row that
is read), and advances every analyzer over the block with :func:`block_rows`: an iterator
that yields the analyzer's outputs at each row, in order, as the engine reaches that decision
close. The per-candle path (``on_ticks`` for the
trades before a close, ``on_candle`` for the candles closing there, ``values()``) is the block
of one row: the same kernel, so the outputs are the same bits whatever the block size.

An analyzer declaring the capability ``"block"`` implements
:meth:`tradewind.protocols.BlockAnalyzer.on_block` itself (no per-row dict copies, expensive
outputs computed only when a rule reads them); any other analyzer goes through its
``on_ticks``/``on_candle``/``values`` per row, exactly as in paper and live mode.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, overload

import attrs
import numpy as np
import numpy.typing as npt

from tradewind.market.candles import CANDLE_DTYPE, _candle
from tradewind.model import Candle, TickBatch

_NAN = math.nan


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


class _Columns(Mapping[str, list[float]]):
    """A table's columns as Python float lists, each made from its float64 array on first
    read (NaN as the one object ``math.nan``, what ``values()`` reports): the columns no
    rule or chart reads are never converted."""

    __slots__ = ("_arrays", "_made")

    def __init__(self, arrays: Mapping[str, npt.NDArray[np.float64]]) -> None:
        self._arrays = arrays
        self._made: dict[str, list[float]] = {}

    def __getitem__(self, key: str) -> list[float]:
        made = self._made.get(key)
        if made is None:
            array = self._arrays[key]
            made = array.tolist()
            if np.isnan(array).any():
                made = [_NAN if x != x else x for x in made]
            self._made[key] = made
        return made

    def get(self, key: str, default: Any = None) -> Any:
        """``Mapping.get``'s answer (the column, or ``default`` when there is none) without
        its ``try``/``KeyError`` round trip: every value read of a row goes through it."""
        made = self._made.get(key)
        if made is not None:
            return made
        if key not in self._arrays:
            return default
        return self[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)


class BlockTable(Iterator[Mapping[str, float]]):
    """An analyzer's outputs over a whole block, computed ahead: one column per output, one
    entry per row. Iterating yields the rows in order (what :func:`block_rows` gives the
    engine); :meth:`arrays` hands the columns to array predicates
    (:mod:`tradewind.trading.gate_arrays`) before the engine reaches the rows.

    An ``on_block`` may return one when its outputs at each row do not depend on anything
    but the block (the analyzer's state after the block is its state after the last row).
    :meth:`of_arrays` makes one from float64 arrays alone: the Python lists of
    :attr:`columns` are then made per column on first read.
    """

    @classmethod
    def of_arrays(cls, arrays: Mapping[str, npt.NDArray[np.float64]], rows: int) -> BlockTable:
        """A table of float64 ``arrays`` (one per output, ``rows`` long, in the order
        ``values()`` reports them); :attr:`columns` converts a column on its first read
        (NaN as the object ``math.nan``)."""
        return cls(_Columns(arrays), rows, arrays)

    def __init__(
        self,
        columns: Mapping[str, list[float]],
        rows: int,
        arrays: Mapping[str, npt.NDArray[np.float64]] | None = None,
    ) -> None:
        for name, column in (columns._arrays if isinstance(columns, _Columns) else columns).items():
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


#: Rows made into :class:`BlockRow` objects at a time when one is read (one ``tolist`` per
#: chunk instead of one per row).
_CHUNK_ROWS = 256


class BlockRows(Sequence[BlockRow]):
    """The rows of a block as arrays; :class:`BlockRow` objects (with their :class:`Candle`
    objects) are made only for the rows read, a chunk at a time, and are the bits
    :func:`make_rows` gives for the same candles.

    What the engine gives ``on_block`` (a plain ``Sequence[BlockRow]`` to an analyzer that
    only iterates) and what :class:`TapeBlock` walks. The arrays, for code that reads the
    whole block at once (the analyzers' tables, the scheduler's walk):

    - :attr:`close_ns` (int64, per row): the close time of the row's candles;
    - :attr:`tick_end` (intp, per row): index into the block's ticks of the first trade at
      or after the close;
    - :attr:`offsets` (intp, rows + 1): row ``r``'s candles are
      ``candles[offsets[r]:offsets[r + 1]]``;
    - :attr:`candles` (:data:`~tradewind.market.candles.CANDLE_DTYPE`, per candle, in the
      aggregator's order: close time, then timeframe), :attr:`candle_tf` (int64) their
      timeframes and :attr:`candle_row` (intp) their rows;
    - :meth:`of_timeframe`: one timeframe's candles and their rows.
    """

    __slots__ = (
        "_made",
        "candle_row",
        "candle_tf",
        "candles",
        "close_ns",
        "instrument",
        "offsets",
        "tick_end",
    )

    def __init__(
        self,
        instrument: str,
        ts_ns: npt.NDArray[np.int64],
        candles: npt.NDArray[np.void],
        candle_tf: npt.NDArray[np.int64],
    ) -> None:
        if len(candles) != len(candle_tf):
            raise ValueError(
                f"block rows of {instrument}: {len(candles)} candles, {len(candle_tf)} timeframes"
            )
        self.instrument = instrument
        self.candles = candles
        self.candle_tf = candle_tf
        closes = candles["open_ts_ns"] + candle_tf
        if len(closes):
            starts = np.flatnonzero(closes[1:] != closes[:-1]) + 1
            starts = np.concatenate((np.zeros(1, dtype=starts.dtype), starts))
        else:
            starts = np.zeros(0, dtype=np.intp)
        n = len(starts)
        self.close_ns: npt.NDArray[np.int64] = closes[starts]
        self.offsets: npt.NDArray[np.intp] = np.append(starts, len(closes)).astype(np.intp)
        self.tick_end: npt.NDArray[np.intp] = ts_ns.searchsorted(self.close_ns, side="left")
        self.candle_row: npt.NDArray[np.intp] = np.repeat(
            np.arange(n, dtype=np.intp), np.diff(self.offsets)
        )
        self._made: list[BlockRow | None] = [None] * n

    @classmethod
    def of_candles(cls, ticks: TickBatch, candles: Sequence[Candle]) -> BlockRows:
        """The rows of ``candles`` (sorted by close time, then timeframe, as the aggregator
        returns them) over ``ticks``: :func:`make_rows`' rows as arrays."""
        data = np.array(
            [
                (
                    c.open_ts_ns,
                    c.open,
                    c.high,
                    c.low,
                    c.close,
                    c.volume,
                    c.buy_volume,
                    c.sell_volume,
                    c.trades,
                    c.buy_trades,
                    c.sell_trades,
                    c.vwap,
                )
                for c in candles
            ],
            dtype=CANDLE_DTYPE,
        )
        tf = np.array([c.timeframe_ns for c in candles], dtype=np.int64)
        return cls(ticks.instrument, ticks.ts_ns, data, tf)

    def of_timeframe(self, timeframe_ns: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.void]]:
        """The candles of one timeframe in this block: each one's row (ascending) and the
        candles (:data:`~tradewind.market.candles.CANDLE_DTYPE`)."""
        mask = self.candle_tf == timeframe_ns
        # ``compress``: the records ``candles[mask]`` selects, copied whole (numpy's boolean
        # and fancy indexing of a structured array copies field by field, ~20x slower).
        return self.candle_row[mask], self.candles.compress(mask)

    def __len__(self) -> int:
        return len(self._made)

    @overload
    def __getitem__(self, r: int) -> BlockRow: ...

    @overload
    def __getitem__(self, r: slice) -> list[BlockRow]: ...

    def __getitem__(self, r: int | slice) -> BlockRow | list[BlockRow]:
        if isinstance(r, slice):
            return [self[i] for i in range(*r.indices(len(self)))]
        if r < 0:
            r += len(self._made)
        row = self._made[r]  # IndexError past the end, as a list's
        if row is None:
            self._make(r)
            row = self._made[r]
            assert row is not None
        return row

    def __iter__(self) -> Iterator[BlockRow]:
        for r in range(len(self._made)):
            yield self[r]

    def made(self) -> list[BlockRow]:
        """Every row as a :class:`BlockRow` (made in one pass where not made yet)."""
        made = self._made
        if made and any(row is None for row in made):
            self._make(0, len(made))
        return made  # type: ignore[return-value]

    def _make(self, r: int, hi: int | None = None) -> None:
        """Make rows ``r`` to ``hi`` (default: the chunk's end), those not made yet, into
        objects."""
        made = self._made
        hi = min(len(made), r + _CHUNK_ROWS) if hi is None else hi
        off = self.offsets[r : hi + 1].tolist()
        lo_c = off[0]
        inst = self.instrument
        candles = [
            _candle(inst, t, rec)
            for t, rec in zip(
                self.candle_tf[lo_c : off[-1]].tolist(),
                self.candles[lo_c : off[-1]].tolist(),
                strict=True,
            )
        ]
        closes = self.close_ns[r:hi].tolist()
        ends = self.tick_end[r:hi].tolist()
        for k in range(hi - r):
            if made[r + k] is None:
                made[r + k] = BlockRow(
                    close_ns=closes[k],
                    tick_end=ends[k],
                    candles=tuple(candles[off[k] - lo_c : off[k + 1] - lo_c]),
                )


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


#: Trades a block needs before the analyzers declaring ``"block-thread"`` are set up on a
#: thread of their own (:func:`opened_rows`): below it a thread's start and join cost more
#: than the overlap can win (a block of one decision interval holds a few hundred trades).
THREAD_MIN_TICKS = 100_000


def usable_cores() -> int:
    """The CPUs this process may run on (its affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # no affinity on this OS
        return os.cpu_count() or 1


def _on_thread(analyzer: Any) -> bool:
    caps = analyzer.capabilities
    return "block" in caps and "block-thread" in caps


def opened_rows(
    analyzers: Sequence[tuple[str, Any]], ticks: TickBatch, rows: Sequence[BlockRow]
) -> list[tuple[str, Iterator[Mapping[str, float]]]]:
    """:func:`block_rows` of each analyzer over a block, in the analyzers' order.

    A block analyzer that also declares ``"block-thread"`` (its ``on_block`` reads only its
    own state, the block's trades and rows, and its kernels release the GIL: the profile's
    binning and window) is set up on a thread of its own (:mod:`tradewind.ahead`) while this
    thread sets up the others, for a block of at least :data:`THREAD_MIN_TICKS` trades with
    another analyzer beside it, when the process may run on more than one CPU
    (:func:`usable_cores`): its compiled kernels run on the machine's other core. Each
    analyzer's outputs are the same bits whichever thread computes them (its state is its
    own); nothing reads them before both are done. When set-ups raise, the first analyzer's
    error in the analyzers' order is raised, after the thread ended."""
    aside = [i for i, (_, a) in enumerate(analyzers) if _on_thread(a)]
    if (
        not aside
        or len(aside) == len(analyzers)
        or len(ticks) < THREAD_MIN_TICKS
        or usable_cores() < 2
    ):
        return [(name, block_rows(a, ticks, rows)) for name, a in analyzers]
    from tradewind import ahead

    def set_up_aside() -> list[tuple[int, Any, BaseException | None]]:
        done: list[tuple[int, Any, BaseException | None]] = []
        for i in aside:
            try:
                done.append((i, block_rows(analyzers[i][1], ticks, rows), None))
            except BaseException as exc:  # raised below, in the analyzers' order
                done.append((i, None, exc))
                break
        return done

    job = ahead.Ahead("tradewind-block-setup", set_up_aside)
    made: dict[int, Any] = {}
    failed: dict[int, BaseException] = {}
    try:
        for i, (_, a) in enumerate(analyzers):
            if i not in aside:
                made[i] = block_rows(a, ticks, rows)
    except BaseException as exc:
        failed[i] = exc
    finally:
        job.wait()
    for i, got, error in job.result():
        if error is not None:
            failed[i] = error
        else:
            made[i] = got
    if failed:
        first = failed[min(failed)]
        failed.clear()
        raise first
    return [(name, made[i]) for i, (name, _) in enumerate(analyzers)]


#: Rows made into objects at a time when :class:`RowQueue` reads one not made yet (the walk
#: reads the rows it steps from the arrays and drops the rest unmade: a short chunk).
_QUEUE_CHUNK = 8
#: The longest chunk :class:`RowQueue` makes: a row read right after the rows before it were
#: made (the quiet closes of several instruments read every row of their blocks) takes twice
#: the last chunk, up to this; a row after rows passed unmade starts again at _QUEUE_CHUNK.
_QUEUE_CHUNK_MAX = 128


class RowQueue:
    """The rows of a block not yet reached (:attr:`TapeBlock.rows`): the front of
    :class:`BlockRows` from :attr:`head` on, read like a deque's front (``rows[0]``,
    ``popleft``, ``len``, iteration) with each :class:`BlockRow` made only when read, and
    :meth:`drop` to pass rows without making them (code reading :attr:`BlockRows`' arrays)."""

    __slots__ = ("_chunk", "_rows", "head")

    def __init__(self, rows: BlockRows, head: int = 0) -> None:
        self._rows = rows
        #: Index in the block's rows of the next row not yet reached.
        self.head = head
        #: Rows made by the last :meth:`_row` that made any.
        self._chunk = _QUEUE_CHUNK

    def _row(self, r: int) -> BlockRow:
        rows = self._rows
        made = rows._made
        row = made[r]  # IndexError past the end, as a deque's
        if row is None:
            # Read on from made rows: a longer chunk (fewer calls, each slicing the arrays);
            # after rows passed unmade (the walk's), a short one again.
            if r and made[r - 1] is not None:
                chunk = min(2 * self._chunk, _QUEUE_CHUNK_MAX)
            else:
                chunk = _QUEUE_CHUNK
            self._chunk = chunk
            rows._make(r, min(len(made), r + chunk))
            row = made[r]
            assert row is not None
        return row

    def __len__(self) -> int:
        return len(self._rows._made) - self.head

    def first(self) -> BlockRow | None:
        """The next row (``rows[0]``), None when none is left: one call where the per-close
        code asked ``bool``, ``len`` and ``[0]`` of the queue."""
        head = self.head
        made = self._rows._made
        if head >= len(made):
            return None
        row = made[head]
        return row if row is not None else self._row(head)

    def __bool__(self) -> bool:
        return self.head < len(self._rows._made)

    def __getitem__(self, i: int) -> BlockRow:
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("block row index out of range")
        return self._row(self.head + i)

    def __iter__(self) -> Iterator[BlockRow]:
        # The rows not reached when iterated (as a deque's iterator; not mutated meanwhile).
        for r in range(self.head, len(self._rows._made)):
            yield self._row(r)

    def popleft(self) -> BlockRow:
        if not self:
            raise IndexError("pop from an empty block's rows")
        row = self._row(self.head)
        self.head += 1
        return row

    def drop(self, n: int) -> None:
        """Pass the next ``n`` rows (at most the rest) without making them."""
        self.head = min(self.head + n, len(self._rows._made))


@attrs.define
class TapeBlock:
    """The engine's block of one instrument: trades ``[start, end)`` of the current feed
    batch, their candles as rows not yet reached, and each analyzer's row iterator."""

    end: int
    #: The whole block's rows as arrays (``arrays.close_ns[r]``, ``arrays.tick_end[r]``, the
    #: candles by timeframe: :class:`BlockRows`); row ``r`` is the same as ``arrays[r]``.
    arrays: BlockRows
    iters: list[tuple[str, Iterator[Mapping[str, float]]]]
    #: Batch index of the block's first trade (a row's ``tick_end`` counts from it).
    start: int = 0
    #: Rows the block opened with (the next row's index is :attr:`next_row`).
    total: int = 0
    _rows: RowQueue | None = None

    @property
    def rows(self) -> RowQueue:
        """The rows not yet reached, as :class:`BlockRow` objects (:class:`RowQueue`): each
        made (with its :class:`Candle` objects, a short chunk at a time) when read, not when
        the block opens; code that reads :attr:`arrays` from :attr:`next_row` on needs no
        objects (and passes rows with ``rows.drop``)."""
        rows = self._rows
        if rows is None:
            rows = self._rows = RowQueue(self.arrays)
        return rows

    @property
    def next_row(self) -> int:
        """Index in :attr:`arrays` of the next row not yet reached (``total`` when none)."""
        rows = self._rows
        return 0 if rows is None else rows.head

    @classmethod
    def open(
        cls,
        ticks: TickBatch,
        end: int,
        candles: Sequence[Candle] | tuple[npt.NDArray[np.void], npt.NDArray[np.int64]],
        analyzers: Sequence[tuple[str, Any]],
    ) -> TapeBlock:
        """A block over ``ticks`` (ending at batch index ``end``) whose closed candles are
        ``candles``: :class:`Candle` objects (as ``CandleAggregator.update`` returns them)
        or the arrays ``CandleAggregator.update_arrays`` returns (no objects made until a
        row is read)."""
        if isinstance(candles, tuple) and len(candles) == 2 and isinstance(candles[0], np.ndarray):
            rows = BlockRows(ticks.instrument, ticks.ts_ns, candles[0], candles[1])
        else:
            rows = BlockRows.of_candles(ticks, candles)  # type: ignore[arg-type]
        iters = opened_rows(analyzers, ticks, rows)
        return cls(end=end, arrays=rows, iters=iters, start=end - len(ticks), total=len(rows))

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
        iters = self.iters
        while True:
            row = rows.first()
            if row is None or row.close_ns > t_close:
                break
            rows.head += 1  # popleft
            candles.extend(row.candles)
            for name, it in iters:
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
