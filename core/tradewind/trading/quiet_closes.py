"""Decision closes of several replayed instruments that nothing but the strategy can act on.

With several replayed instruments the engine brings every instrument to each grid time in
turn (``Engine._reach``: the closes on the way in time order, then each instrument's close at
the grid time, in instrument order), so that no close of one instrument sees another's later
trades. That order stays: the equity curve, filters and exits read the whole portfolio. What
changes is the work done at a close of an instrument that holds no position, while no order
anywhere is in doubt and no command, stop or re-reconciliation is pending: the engine's step
there polls nothing, scans no exit, commits nothing and only counts the close, records its
curves and equity point and asks the strategy. :class:`QuietCloses` does exactly that from
the instrument's block row (a block reaching past the feed's batches,
:mod:`tradewind.trading.block_lookahead`), and judges the strategy's leading gates for the
whole block at once by array predicates (:mod:`tradewind.trading.gate_arrays`), counting a
row they reject without :meth:`Strategy.decide`. A close where the strategy signals is an
event: the engine's own entry path (sizing, filters, order manager, venue, journal) runs
there, as in a step. Any other close takes the engine's full step.

The result is the stepped result bit for bit (tests/test_event_scheduler_multi.py).
"""

from __future__ import annotations

from math import nan
from typing import TYPE_CHECKING

import numpy as np

from tradewind.blocks import BlockTable, TableRow, TapeBlock, _Columns
from tradewind.market.candles import _candle
from tradewind.trading.curves import Curve, curve_of
from tradewind.trading.gate_arrays import GateArrays

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import numpy.typing as npt

    from tradewind.model import Candle, Signal
    from tradewind.model.ticks import TickBatch
    from tradewind.trading.engine import Engine, _InstrumentState


#: An instrument's price curve, candle curve and charted series (name, analyzer instance,
#: output, points, and the last table column read for it: ``[columns, column]``), as the
#: engine holds them.
_Curves = tuple[
    Curve[tuple[int, float]],
    Curve[tuple[int, float, float, float, float, float]],
    tuple[tuple[str, str, str, Curve[tuple[int, float]], list[object]], ...],
]


class _RowLists:
    """A block's rows as Python lists, made once per block from its arrays (the values its
    :class:`BlockRow` and :class:`Candle` objects would hold): each row's close time and
    candle count, and its candle of the strategy's timeframe (index ``at[r]`` into the
    lists of those candles' fields, -1: none) with the candle's index in the block. Also
    kept as arrays (``at_array``, the candles' records ``records``) for the curve points
    written a stretch at a time (:class:`_Deferred`), and the charted series' table
    columns (``charted``: set by :meth:`QuietCloses._charted_columns`)."""

    __slots__ = (
        "at",
        "at_array",
        "charted",
        "close",
        "closes",
        "counts",
        "high",
        "index",
        "low",
        "open",
        "open_ts",
        "records",
        "tables",
        "volume",
    )

    def __init__(self, block: TapeBlock, strategy_tf: int) -> None:
        a = block.arrays
        self.closes: list[int] = a.close_ns.tolist()
        self.counts: list[int] = np.diff(a.offsets).tolist()
        mask = a.candle_tf == strategy_tf
        rows = a.candle_row[mask]
        at = np.full(len(self.closes), -1, dtype=np.intp)
        at[rows] = np.arange(len(rows), dtype=np.intp)
        self.at: list[int] = at.tolist()
        self.at_array = at
        self.index: list[int] = np.flatnonzero(mask).tolist()
        c = a.candles.compress(mask)  # a.candles[mask] (BlockRows.of_timeframe's note)
        self.records = c
        self.charted: tuple[npt.NDArray[np.float64] | None, ...] | None = None
        #: The block's analyzers' tables when every analyzer has one (None: not all, or
        #: the points are not deferred): a close hands ``AnalyzerValues`` their row lazily.
        self.tables: tuple[tuple[str, BlockTable], ...] | None = None
        self.open_ts: list[int] = c["open_ts_ns"].tolist()
        self.open: list[float] = c["open"].tolist()
        self.high: list[float] = c["high"].tolist()
        self.low: list[float] = c["low"].tolist()
        self.close: list[float] = c["close"].tolist()
        self.volume: list[float] = c["volume"].tolist()


class _Deferred:
    """An instrument's quiet closes taken from one block's arrays whose curve points (its
    price, candle and charted-series points) are not on its curves yet: each close's time
    and block row. :meth:`QuietCloses.flush` puts them on as column chunks
    (:meth:`Curve.extend_columns`), read back as the tuples the closes would have appended
    one by one (``int`` and ``float`` of the same int64 and float64 values, a NaN as
    ``math.nan`` as the table's columns hold it)."""

    __slots__ = ("block", "curves", "lists", "rows", "times")

    def __init__(self, block: TapeBlock, lists: _RowLists, curves: _Curves) -> None:
        self.block = block
        self.lists = lists
        self.curves = curves
        self.times: list[int] = []
        self.rows: list[int] = []

    def write(self) -> None:
        """The points, onto the curves in close order (after those already there)."""
        n = len(self.times)
        if not n:
            return
        lists = self.lists
        charted = lists.charted
        assert charted is not None
        times = np.array(self.times, dtype=np.int64)
        rows = np.array(self.rows, dtype=np.intp)
        c = lists.records[lists.at_array[rows]]
        prices, candles, series = self.curves
        close = np.ascontiguousarray(c["close"])
        prices.extend_columns(times, close)
        candles.extend_columns(
            np.ascontiguousarray(c["open_ts_ns"]),
            np.ascontiguousarray(c["open"]),
            np.ascontiguousarray(c["high"]),
            np.ascontiguousarray(c["low"]),
            close,
            np.ascontiguousarray(c["volume"]),
        )
        for (_, _, _, points, _), column in zip(series, charted, strict=True):
            values = np.full(n, nan, dtype=np.float64) if column is None else column[rows]
            points.extend_columns(times, values)
        self.times = []
        self.rows = []


class QuietCloses:
    """Takes an engine's quiet decision closes of several instruments (module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        #: Closes gone through here (not by the engine's full step).
        self.closes = 0
        #: Candidates the array predicates rejected, and the same per rejecting gate.
        self.rejected_by_arrays = 0
        self.rejected_by_gate: dict[str, int] = {}
        self._gates: dict[frozenset[str], GateArrays] = {}
        #: Per instrument: (block, first row judged, per row the failing gate or -1, names).
        self._judged: dict[str, tuple[TapeBlock, int, list[int] | None, list[str]]] = {}
        #: Per instrument: the engine's curve lists it appends to (``_curves_of``).
        self._curves: dict[str, _Curves] = {}
        #: The engine's clock and its ``advance_to`` (None: a clock without one), looked up
        #: once per clock instead of at every close.
        self._clock: object = None
        self._advance: Callable[[int], None] | None = None
        #: Calls of the engine's end of step left out: nothing was pending after the close.
        self.idle_steps = 0
        #: Pieces of trades between decision points taken by :meth:`ticks`.
        self.pieces = 0
        #: Take a close of one row from the block's arrays (:meth:`_from_arrays`: no
        #: :class:`BlockRow` or :class:`Candle` objects); False: through ``TapeBlock.take``.
        self.from_arrays = True
        #: Closes taken from the block's arrays.
        self.array_closes = 0
        #: Per instrument: its block and that block's rows as lists (:meth:`_lists`).
        self._rows: dict[str, tuple[TapeBlock, _RowLists]] = {}
        #: Write the curve points of closes taken from the arrays a stretch at a time
        #: (:class:`_Deferred`); False: each close appends its points (the tests' reference).
        self.defer_curves = True
        #: Per instrument: its closes whose curve points wait for :meth:`flush`.
        self._deferred: dict[str, _Deferred] = {}
        #: Closes whose curve points were written a stretch at a time.
        self.deferred_points = 0
        #: Closes whose analyzers' rows went to ``AnalyzerValues`` unmade (``use_table_rows``).
        self.lazy_rows = 0
        #: The engine was found quiet (:meth:`_engine_quiet`) at this grid time and the closes
        #: since did nothing but count, record and ask the strategy (no order, no publish, no
        #: step): what it reads has not changed, the next close of the pass needs no check.
        self._known_quiet = False
        #: Closes that took the engine's quiet check from the last close of the pass.
        self.known_quiet = 0
        #: Take it so; False: every close checks (the tests' reference).
        self.reuse_quiet = True
        #: Take a pass's usual closes as one plain function each (:func:`quick_close`);
        #: False: every close through :meth:`close` (the tests' reference).
        self.quick = True
        #: Closes taken whole by :func:`quick_close`.
        self.quick_closes = 0

    def new_pass(self) -> None:
        """A new pass of ``Engine._reach`` over the instruments: the engine's state may have
        changed since the last close (the feed's batches in between), check it again."""
        self._known_quiet = False

    def _curves_of(self, key: str) -> _Curves:
        """The engine's price, candle and charted-series lists of instrument ``key`` (made
        as the engine's step makes them, on first use), kept to append to at each close."""
        e = self.engine
        prices = curve_of(e.price_curve, key)
        candles = curve_of(e.candle_curve, key)
        charted: list[tuple[str, str, str, Curve[tuple[int, float]], list[object]]] = []
        if e._charted:
            mine = e.series.setdefault(key, {})
            for name in e._charted:
                instance, _, output = name.partition(".")
                charted.append((name, instance, output, curve_of(mine, name), [None, None]))
        curves = self._curves[key] = (prices, candles, tuple(charted))
        return curves

    def flush(self, key: str) -> None:
        """Put instrument ``key``'s waiting curve points on its curves: before anything
        else appends to them (the engine's step) and before they are read."""
        d = self._deferred.pop(key, None)
        if d is not None:
            d.write()

    def flush_all(self) -> None:
        """:meth:`flush` of every instrument (the run's end, before its summary)."""
        deferred, self._deferred = self._deferred, {}
        for d in deferred.values():
            d.write()

    def _charted_columns(
        self, block: TapeBlock
    ) -> tuple[npt.NDArray[np.float64] | None, ...] | None:
        """Per charted series (the engine's order), the float64 column of ``block``'s table
        that a close reads it from (None: the table has no such output, the point is NaN);
        None when a series is read otherwise (an analyzer without a table of arrays, a
        venue's values): the points are then appended close by close."""
        tables = {name: it for name, it in block.iters if type(it) is BlockTable}
        out: list[npt.NDArray[np.float64] | None] = []
        for name in self.engine._charted:
            instance, _, output = name.partition(".")
            table = tables.get(instance)
            if table is None or type(table.columns) is not _Columns:
                return None
            arrays = table.columns._arrays
            column = arrays.get(output)
            if column is not None and (
                not isinstance(column, np.ndarray)
                or column.dtype != np.float64
                or column.ndim != 1
                or len(column) != table.rows
            ):
                return None
            out.append(column)
        return tuple(out)

    def _engine_quiet(self) -> bool:
        """Nothing engine-wide that a step would do at a close: no command, stop or halt, no
        order in doubt, no venue calls off the loop, no re-reconciliation, no step sinks."""
        e = self.engine
        return not (
            e.halted_at is not None
            or e.control.paused
            or e.control.has_pending()
            or e.stopper.requested
            or e.venue_calls is not None
            or e._reconcile_every_ns is not None
            or e.step_sinks
            or e.orders.pending
            or e.orders.in_doubt()
        )

    def _verdicts(
        self, st: _InstrumentState, block: TapeBlock
    ) -> tuple[int, list[int] | None, list[str]]:
        """For ``st``'s block, judged once: the first row judged, per row from it the index of
        the compiled gate rejecting it (-1: through; None: no leading gate reads only tabled
        outputs), and the gates' funnel names."""
        key = st.key
        judged = self._judged.get(key)
        if judged is not None and judged[0] is block:
            return judged[1], judged[2], judged[3]
        e = self.engine
        first = block.total - len(block.rows)
        tables = {
            f"{name}.{col}": column[first:]
            for name, it in block.iters
            if isinstance(it, BlockTable)
            for col, column in it.arrays().items()
        }
        names = frozenset(tables)
        gates = self._gates.get(names)
        if gates is None:
            gates = self._gates[names] = GateArrays(e.config.strategy, names)
        failing: list[int] | None = None
        if len(gates):
            # Per row from ``first``: the close of its strategy-timeframe candle (NaN: none),
            # from the block's arrays (the floats its Candle objects hold).
            rows, candles = block.arrays.of_timeframe(e.strategy_tf)
            close: npt.NDArray[np.float64] = np.full(block.total, nan, dtype=np.float64)
            close[rows] = candles["close"]
            failing = gates.first_failing(tables, close[first:]).tolist()
        self._judged[key] = (block, first, failing, gates.names)
        return first, failing, gates.names

    def ticks(self, st: _InstrumentState, piece: TickBatch) -> bool:
        """Trades of ``st`` between two decision points that nothing can act on, taken as
        :meth:`Engine._on_ticks` takes them; False (nothing done) when they need it.

        That is its first and only step when no trade of the piece can fill an order (the
        simulated venue says when one can next happen), no exit monitor watches a position of
        the instrument and the piece does not follow a data gap: the clock, the mark, the
        venue's matching (no order fills) and the candles and tick analyzers of a piece no
        block fed. The caller then publishes as the step's end does (not at all when
        :meth:`Engine._nothing_to_publish`)."""
        if st.after_gap or not len(piece):
            return False
        e = self.engine
        venue = st.exec_venue
        simulated = "simulated" in venue.capabilities
        if simulated and venue.next_fill_ts(piece) is not None:
            return False
        if e.exits:
            pos = e.portfolio.position(st.key)
            # A zero quantity holds nothing (``holds``), whatever the instrument and mark.
            if pos.quantity and e._holds(pos):
                return False
        self.pieces += 1
        e._advance(piece, simulated, venue)
        if st.block is None:  # a block has fed them already
            st.aggregator.update(piece)
            for a in st.tick_analyzers:
                a.on_ticks(piece)
        return True

    async def close(self, st: _InstrumentState, t_close: int) -> bool:
        """``st``'s decision close at ``t_close`` as the engine's step would take it; False
        (nothing done) when it needs the engine's full step."""
        block = st.block
        known, self._known_quiet = self._known_quiet, False
        if block is None:
            return False
        if known:
            self.known_quiet += 1
        elif not self._engine_quiet():
            return False
        return await self.close_checked(st, t_close)

    async def close_checked(self, st: _InstrumentState, t_close: int) -> bool:
        """:meth:`close` after the engine's quiet check (made or taken from the last close)."""
        e = self.engine
        block = st.block
        assert block is not None
        key = st.key
        portfolio = e.portfolio
        pos = portfolio.position(key)
        if pos.quantity and e._holds(pos):
            return False  # exit monitors read the close
        clock = e.clock
        if clock is not self._clock:
            self._clock, self._advance = clock, getattr(clock, "advance_to", None)
        advance = self._advance
        if advance is not None:
            advance(t_close)
        rows = block.rows
        head = rows.head
        # From the arrays unless candle sinks take the candles' objects, or analyzers have
        # no rows in the block (they take the candles one by one then).
        if self.from_arrays and not e.candle_sinks and (block.iters or not st.analyzers):
            kept = self._rows.get(key)
            if kept is None or kept[0] is not block:
                lists = _RowLists(block, e.strategy_tf)
                if self.defer_curves:
                    lists.charted = self._charted_columns(block)
                    if lists.charted is not None and block.iters:
                        tables = tuple((n, it) for n, it in block.iters if type(it) is BlockTable)
                        if len(tables) == len(block.iters):
                            lists.tables = tables
                self._rows[key] = (block, lists)
            else:
                lists = kept[1]
            closes = lists.closes
            if head >= len(closes) or closes[head] > t_close:
                # Nothing closes here (the step would return before deciding).
                self._known_quiet = self.reuse_quiet
                return True
            if head + 1 == len(closes) or closes[head + 1] > t_close:
                entry = self._from_arrays(st, block, lists, head, t_close)
                if entry is not None:
                    await e._enter(st, entry[0], t_close, entry[1])
                if e._nothing_to_publish():
                    self.idle_steps += 1  # nothing for the step's end to journal or publish
                    # Nothing done that the engine's quiet check reads (no entry either).
                    self._known_quiet = entry is None and self.reuse_quiet
                else:
                    await e._publish_pending()
                return True
        front = rows.first()
        if front is None or front.close_ns > t_close:
            return True  # nothing closes here (the step would return before deciding)
        if key in self._deferred:
            self.flush(key)  # its points before this close's
        r = block.total - len(rows)
        # Judged before the row is taken (the judged rows start at the first one not taken).
        judged = self._judged.get(key)
        if judged is not None and judged[0] is block:
            _, first, failing, names = judged
        else:
            first, failing, names = self._verdicts(st, block)
        closed, got = block.take(t_close)
        one_row = rows.head == head + 1  # the block's rows before and after: one taken
        self.closes += 1
        e.candles += len(closed)
        for sink in e.candle_sinks:
            sink(closed)
        values = st.values
        if got:
            values.use_rows(got)
        else:
            for c in closed:
                for _, a in st.analyzers:
                    a.on_candle(c)
            values.refresh()
        strategy_tf = e.strategy_tf
        # An order of this instrument in flight: no decision (Engine._decide).
        in_flight = portfolio.has_open_order(key)
        for c in closed:
            if c.timeframe_ns != strategy_tf:
                continue
            curves = self._curves.get(key)
            if curves is None:
                curves = self._curves_of(key)
            prices, candles, charted = curves
            e.decision_points += 1
            e._equity.record(t_close)
            prices.append((t_close, c.close))
            candles.append((c.open_ts_ns, c.open, c.high, c.low, c.close, c.volume))
            for name, instance, output, points, memo in charted:
                # Read from the row where the row holds the analyzer (what ``values.get``
                # returns after ``use_rows``), as the one-instrument scheduler does.
                row_values = got.get(instance)
                if row_values is None:
                    v = values.get(name)
                elif type(row_values) is TableRow:
                    # A table's row: its column's entry (what ``TableRow.get`` reads). The
                    # column list of a table made of arrays (``_Columns``: each list made
                    # once, then the same object) is kept from the last close of its table.
                    columns = row_values._columns
                    if memo[0] is columns:
                        column = memo[1]
                    else:
                        column = columns.get(output)
                        if type(columns) is _Columns:
                            memo[0], memo[1] = columns, column
                    v = nan if column is None else column[row_values._r]  # type: ignore[index]
                else:
                    v = row_values.get(output, nan)
                points._tail.append((t_close, float(v)))
                points._len += 1
            if in_flight:
                continue
            if one_row and failing is not None:
                if failing[r - first] >= 0:
                    gate = names[failing[r - first]]
                    e.strategy.rejected_at(gate)
                    self.rejected_by_arrays += 1
                    self.rejected_by_gate[gate] = self.rejected_by_gate.get(gate, 0) + 1
                    continue
            signal = e.strategy.decide(st.instrument, c.close, t_close, values)
            if signal is not None:
                await e._enter(st, c, t_close, signal)
        if e._nothing_to_publish():
            self.idle_steps += 1  # nothing for the step's end to journal, publish or tick
        else:
            await e._publish_pending()
        return True

    def _from_arrays(
        self, st: _InstrumentState, block: TapeBlock, lists: _RowLists, r: int, t_close: int
    ) -> tuple[Candle, Signal] | None:
        """:meth:`close` of the one row ``r`` of ``st``'s block due at ``t_close``, read from
        the block's arrays, up to the decision: what ``TapeBlock.take`` and the loop over its
        candles do, without the row's :class:`BlockRow` and :class:`Candle` objects. Returns
        the strategy's signal with its candle (made from the record its object would be made
        of) for the caller to enter, None when there is none."""
        e = self.engine
        key = st.key
        judged = self._judged.get(key)
        if judged is not None and judged[0] is block:
            _, first, failing, names = judged
        else:
            first, failing, names = self._verdicts(st, block)
        # ``TapeBlock.take`` of the one row: the row passed, every analyzer's row read.
        block.rows.head = r + 1
        got: dict[str, Mapping[str, float]] = {}
        # Whether every table's row is the block's row ``r`` (what the deferred points read).
        aligned = True
        tables = lists.tables
        if tables is not None:
            # Every analyzer's table at row ``r`` (as they always are here: the block's rows
            # and its tables move on together): the rows handed over lazily, no mapping made.
            for _, table in tables:
                if table._next != r or r >= table.rows:
                    tables = None
                    break
        if tables is not None:
            for _, table in tables:
                table._next = r + 1
            self.closes += 1
            self.array_closes += 1
            e.candles += lists.counts[r]
            st.values.use_table_rows(tables, r)
            self.lazy_rows += 1
            k = lists.at[r]
            if k < 0:
                return None
            close = lists.close[k]
            e.decision_points += 1
            e._equity.record(t_close)
            self._defer(st, block, lists, r, t_close)
            return self._decide(st, block, lists, k, r, first, failing, names, close, t_close)
        for name, it in block.iters:
            if type(it) is BlockTable:
                # ``BlockTable.__next__`` without the call (its next row while one is left).
                nxt = it._next
                if nxt < it.rows:
                    it._next = nxt + 1
                    got[name] = TableRow(it.columns, nxt)
                    if nxt != r:
                        aligned = False
                    continue
            try:
                got[name] = next(it)
            except StopIteration:
                raise RuntimeError(
                    f"analyzer '{name}': its block ended before the row at "
                    f"{lists.closes[r]} ns; on_block must yield once per row it is given"
                ) from None
        self.closes += 1
        self.array_closes += 1
        e.candles += lists.counts[r]
        values = st.values
        if got:
            values.use_rows(got)
        else:
            values.refresh()  # no analyzers (the caller's condition): nothing to feed
        k = lists.at[r]
        if k >= 0:  # the row's candle of the strategy's timeframe
            close = lists.close[k]
            e.decision_points += 1
            e._equity.record(t_close)
            if aligned and lists.charted is not None:
                self._defer(st, block, lists, r, t_close)
                return self._decide(st, block, lists, k, r, first, failing, names, close, t_close)
            if key in self._deferred:
                self.flush(key)
            curves = self._curves.get(key)
            if curves is None:
                curves = self._curves_of(key)
            prices, candles, charted = curves
            # ``Curve.append`` without its call (seven a close): the point onto the tail.
            prices._tail.append((t_close, close))
            prices._len += 1
            candles._tail.append(
                (
                    lists.open_ts[k],
                    lists.open[k],
                    lists.high[k],
                    lists.low[k],
                    close,
                    lists.volume[k],
                )
            )
            candles._len += 1
            for _name, instance, output, points, memo in charted:
                row_values = got.get(instance)
                if row_values is None:
                    v = values.get(_name)
                elif type(row_values) is TableRow:
                    columns = row_values._columns
                    if memo[0] is columns:
                        column = memo[1]
                    else:
                        column = columns.get(output)
                        if type(columns) is _Columns:
                            memo[0], memo[1] = columns, column
                    v = nan if column is None else column[row_values._r]  # type: ignore[index]
                else:
                    v = row_values.get(output, nan)
                points._tail.append((t_close, float(v)))
                points._len += 1
            return self._decide(st, block, lists, k, r, first, failing, names, close, t_close)
        return None

    def _defer(
        self, st: _InstrumentState, block: TapeBlock, lists: _RowLists, r: int, t_close: int
    ) -> None:
        """The curve points of ``st``'s close at ``t_close`` (block row ``r``), kept for
        :meth:`flush` (:class:`_Deferred`)."""
        key = st.key
        deferred = self._deferred.get(key)
        if deferred is None or deferred.block is not block:
            if deferred is not None:
                self.flush(key)  # the last block's points first
            curves = self._curves.get(key)
            if curves is None:
                curves = self._curves_of(key)
            deferred = self._deferred[key] = _Deferred(block, lists, curves)
        deferred.times.append(t_close)
        deferred.rows.append(r)
        self.deferred_points += 1

    def _decide(
        self,
        st: _InstrumentState,
        block: TapeBlock,
        lists: _RowLists,
        k: int,
        r: int,
        first: int,
        failing: list[int] | None,
        names: list[str],
        close: float,
        t_close: int,
    ) -> tuple[Candle, Signal] | None:
        """The decision of :meth:`_from_arrays`' row ``r`` (its candle ``k`` closing at
        ``close``): none while an order of the instrument is in flight, the rejecting gate
        counted when the array predicates reject the row, else the strategy's."""
        e = self.engine
        if e.portfolio.has_open_order(st.key):
            return None
        if failing is not None and failing[r - first] >= 0:
            gate = names[failing[r - first]]
            e.strategy.rejected_at(gate)
            self.rejected_by_arrays += 1
            self.rejected_by_gate[gate] = self.rejected_by_gate.get(gate, 0) + 1
            return None
        signal = e.strategy.decide(st.instrument, close, t_close, st.values)
        if signal is None:
            return None
        a = block.arrays
        j = lists.index[k]
        rec = a.candles[j : j + 1].tolist()[0]
        return _candle(a.instrument, e.strategy_tf, rec), signal
