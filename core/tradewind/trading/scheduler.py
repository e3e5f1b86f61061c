"""The backtest's event scheduler: flat stretches go from one possible signal to the next.

While an instrument is flat, with no order in flight and nothing else pending, nothing the
engine does between two closes can change a position: the simulated venue has nothing to
match, no exit monitor runs, and a close only counts a decision and asks the strategy. So the
scheduler walks the rows of the instrument's block (:mod:`tradewind.blocks`) in one plain
loop: per close it folds the trades before it into the venue and the portfolio as one piece,
advances the analyzers to the row, keeps the counters, curves and equity points of the
close, and asks the strategy's gates (the funnel counts the first failing gate, as ever).
The leading gates that read only outputs of analyzers handing their block over as a table
(:class:`tradewind.blocks.BlockTable`) are judged for the whole block at once by array
predicates (:mod:`tradewind.trading.gate_arrays`); a row they reject is counted without
:meth:`Strategy.decide`. The first close whose gates let a signal through is an event: from
there the engine's own path
(sizing, filters, order manager, venue, journal) takes over, and it steps close by close
again until the instrument is flat with nothing pending.

While the instrument holds a position, with nothing in flight, the same walk goes on up to
the first exit trigger (:meth:`Scheduler.hold`): every exit monitor scans the block ahead
(:mod:`tradewind.trading.exit_scan`; all of them must declare ``"scan"``), and the walk stops
before the trades and close that hold the earliest answer, before the trades that reach the
position's next funding time (the simulated venue pays it on the batch that reaches it), and
at a signal. Afterwards the monitors see the walked trades in one ``on_ticks`` call, which
leaves them as feeding them close by close does; the calls left out while holding are the
exit checks that do not trigger (the scans answered for them) and the empty order polls.

When every analyzer hands its block over as a table and the portfolio is flat without a
venue account, the flat walk goes over stretches: from one close the array predicates let
through to the next, the closes between are walked in bulk (counters, funnel counts, curves,
charted series and equity points extended at once, one mark, one clock move; see
:class:`_Stretches` and :meth:`Scheduler.skip`).

The result is the engine's step-by-step result, bit for bit: the same calls in the same
order, minus the ones that are no-ops while flat (an empty order poll, an exit scan of no
position, a commit of nothing). Several instruments go through every close in the stepped
order, their quiet ones the short way (:mod:`tradewind.trading.quiet_closes`, over blocks
reaching past the feed's batches: :mod:`tradewind.trading.block_lookahead`); paper and live
step every close.
"""

from __future__ import annotations

from decimal import Decimal, getcontext
from math import nan
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from tradewind.blocks import BlockTable, TapeBlock
from tradewind.errors import ConfigError
from tradewind.market.candles import _candle
from tradewind.protocols import FoldingExit, ScanningExit
from tradewind.trading.curves import Curve, curve_of
from tradewind.trading.equity import EquityCurve
from tradewind.trading.exit_scan import HoldWindow, RowSpan, first_trigger, fold_walked
from tradewind.trading.gate_arrays import GateArrays
from tradewind.trading.portfolio import NS_PER_DAY, Portfolio

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from tradewind.model import Candle, TickBatch
    from tradewind.trading.engine import Engine, _InstrumentState


#: The fewest closes a stretch walked while holding must have to be walked in bulk (below it
#: the bulk's fixed numpy calls cost more than the close-by-close walk's points).
HELD_BULK_MIN = 16

#: How many closes ahead a position's first exit scan looks (each later scan of the same
#: position looks twice as far as the last). Any length gives the same first trigger (a scan
#: answers for its window; one that finds none is followed by the next): this is only how the
#: scans' and walks' per-call costs are traded against closes scanned past the trigger.
HOLD_FIRST_SCAN = 16

#: What the array predicates made of a block: (first row, verdicts as a list, gate names).
Verdicts = tuple[int, "list[int] | None", list[str]]
#: A block's rows as lists (Scheduler._lists): tick ends, close times, candle counts, the
#: index of each row's candle of the strategy's timeframe (-1: none).
_RowLists = tuple[list[int], list[int], list[int], list[int]]


_TIMEFRAME = attrgetter("timeframe_ns")


def decision_candles(groups: list[tuple[Candle, ...]], strategy_tf: int) -> list[Candle | None]:
    """Per row's candles, its candle of the strategy's timeframe (None: the row has none)."""
    # The aggregator emits a close's candles shortest timeframe first: mostly the first.
    firsts: list[Candle] = list(map(itemgetter(0), groups))
    tfs = list(map(_TIMEFRAME, firsts))
    if tfs.count(strategy_tf) == len(tfs):
        return cast("list[Candle | None]", firsts)
    return [
        c if tf == strategy_tf else next((x for x in g if x.timeframe_ns == strategy_tf), None)
        for c, tf, g in zip(firsts, tfs, groups, strict=True)
    ]


class _Stretches:
    """A block's rows laid out for the walk over stretches of rejected closes (see
    :meth:`Scheduler.skip`): per row from ``first`` (the head of the block's rows when made),
    the arrays a stretch's bookkeeping is read from, by row index relative to ``first``.

    Built once per block from the block's arrays (:class:`tradewind.blocks.BlockRows`: no
    row or candle objects); the curves' points of a stretch are read from the candles'
    columns when it is walked. A row's decision is its candle of the strategy's timeframe
    (a row without one only counts its candles).
    """

    __slots__ = (
        "aligned",
        "all_decide",
        "cand_cum",
        "candles",
        "close_ns",
        "dec_cum",
        "dec_idx",
        "failing",
        "first",
        "gate_cum",
        "grid_t",
        "group",
        "group_start",
        "rows",
        "stops",
        "tick_end",
    )

    def __init__(
        self,
        block: TapeBlock,
        ts_ns: npt.NDArray[np.int64],
        step: int,
        strategy_tf: int,
        verdicts: Verdicts,
    ) -> None:
        arrays = block.arrays
        first = self.first = block.next_row
        m = self.rows = block.total - first
        vfirst, failing, gate_names = verdicts
        tick_end = self.tick_end = np.asarray(arrays.tick_end[first:], dtype=np.intp)
        close_ns = self.close_ns = arrays.close_ns[first:]
        self.candles = arrays.candles
        cand_cum = self.cand_cum = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(np.diff(arrays.offsets[first:]), out=cand_cum[1:])
        # Per row, the index (in the block's candles) of its candle of the strategy's
        # timeframe, -1 for none (a close has one candle per timeframe).
        dec_idx = self.dec_idx = np.full(m, -1, dtype=np.intp)
        at = np.flatnonzero(arrays.candle_tf == strategy_tf)
        at_row = arrays.candle_row[at]
        keep = at_row >= first
        dec_idx[at_row[keep] - first] = at[keep]
        dec = dec_idx >= 0
        #: Every row has a decision (a stretch's points are its rows' in order).
        self.all_decide = bool(dec.all())
        dec_cum = self.dec_cum = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(dec, out=dec_cum[1:])
        # The walk's groups: the rows reached by the same trade (one step of the loop), and
        # the grid time that trade brings the engine to.
        new = np.ones(m, dtype=bool)
        new[1:] = tick_end[1:] != tick_end[:-1]
        group = self.group = np.cumsum(new) - 1
        self.group_start = np.flatnonzero(new)[group]
        k = block.start + tick_end
        inside = k < len(ts_ns)
        grid = self.grid_t = np.full(m, np.iinfo(np.int64).max, dtype=np.int64)
        grid[inside] = (ts_ns[k[inside]] // step) * step
        #: Each group's rows close by its grid time (the walk's loop takes them all there
        #: in one step); otherwise the block is walked close by close.
        self.aligned = bool(np.all(close_ns[inside] <= grid[inside]))
        # The rows a stretch stops before: decisions the array predicates let through.
        fail = np.full(m, -2, dtype=np.intp)  # -2: no decision at the row
        if failing is None:
            fail[dec] = -1
        else:
            fail[dec] = np.asarray(failing, dtype=np.intp)[first - vfirst :][dec]
        self.failing = fail
        self.stops = np.flatnonzero(fail == -1)
        gate_cum = self.gate_cum = np.zeros((len(gate_names), m + 1), dtype=np.int64)
        for g in range(len(gate_names)):
            np.cumsum(fail == g, out=gate_cum[g, 1:])

    def end(self, r: int, limit: int) -> int:
        """The end of the stretch from row ``r`` (a group's first): the first group holding a
        decision the arrays let through, or reached by trade ``limit`` (block index) or later."""
        stops = self.stops
        x = int(stops.searchsorted(r))
        b = int(self.group_start[stops[x]]) if x < len(stops) else self.rows
        return min(b, r + int(self.tick_end[r:b].searchsorted(limit)))

    def decisions(
        self, r: int, b: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], tuple[np.ndarray, ...]]:
        """The close times, decision candles' closes and candle curve columns (open time,
        open, high, low, close, volume) of rows ``r`` to ``b``: the int64 and float64
        columns the :class:`Candle` objects' fields are read from (new arrays, not views
        of the block's)."""
        idx = self.dec_idx[r:b]
        times = self.close_ns[r:b]
        if not self.all_decide:
            has = idx >= 0
            idx = idx[has]
            times = times[has]
        # take: candles[idx] without the structured array's field-by-field fancy indexing.
        got = self.candles.take(idx)
        close = got["close"]
        columns = (got["open_ts_ns"], got["open"], got["high"], got["low"], close, got["volume"])
        return np.array(times, dtype=np.int64), close, columns


def _column_at(
    column: Sequence[float] | np.ndarray | None, at: np.ndarray | slice, n: int
) -> npt.NDArray[np.float64]:
    """``float(column[x])`` for each ``x`` of ``at`` (rows: a slice or an index array of
    ``n``) as float64 (NaN for each without the column), the same values."""
    if column is None:
        return np.full(n, nan)
    if isinstance(column, np.ndarray):
        if column.dtype == np.float64 and not isinstance(at, slice):
            # An index array takes a new array of the same floats (a slice would be a view
            # of the block's column, which the curve must not keep).
            return cast("npt.NDArray[np.float64]", column[at])
        return np.array(column[at], dtype=np.float64)
    if isinstance(at, slice):
        return np.array(list(map(float, column[at])), dtype=np.float64)
    return np.array([float(column[x]) for x in at.tolist()], dtype=np.float64)


class Scheduler:
    """Skips an engine's quiet closes (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        #: Closes gone through without stepping the engine, and stretches skipped.
        self.closes = 0
        self.stretches = 0
        #: Candidates the array predicates rejected (no scalar decide at those closes).
        self.rejected_by_arrays = 0
        #: The same, per rejecting gate (funnel name).
        self.rejected_by_gate: dict[str, int] = {}
        self._gates: dict[frozenset[str], GateArrays] = {}
        #: The block whose rows the array predicates have judged: (block, first row, verdicts).
        self._judged: tuple[TapeBlock, Verdicts] | None = None
        #: Closes gone through while holding a position (part of ``closes``).
        self.held_closes = 0
        #: Walks that handed rows to the analyzer values only where read (see skip).
        self.lean_walks = 0
        self._last_walk = 0
        # Holding a position is walked only when every exit monitor scans (tradewind.protocols.
        # ScanningExit); a third-party monitor without it keeps the engine stepping.
        for mon in engine.exits:
            if "scan" in mon.capabilities and not isinstance(mon, ScanningExit):
                raise ConfigError(
                    f"exit monitor '{mon.name}' ({type(mon).__module__}) declares the "
                    f'capability "scan" but has no scan(position, window, ctx) method'
                )
            if "fold" in mon.capabilities and not (
                "scan" in mon.capabilities and isinstance(mon, FoldingExit)
            ):
                raise ConfigError(
                    f"exit monitor '{mon.name}' ({type(mon).__module__}) declares the "
                    f'capability "fold" but not "scan" with a scan(position, window, ctx) '
                    f"and a fold(position, walked, ctx) method"
                )
        self._hold: list[Any] | None = (
            list(engine.exits) if all("scan" in m.capabilities for m in engine.exits) else None
        )
        #: The last scan: (block, the position it was made for, its trigger row or None,
        #: the first row it did not look at, how many rows it looked at).
        self._held: tuple[TapeBlock, tuple[Any, ...], int | None, int, int] | None = None
        #: The tabled analyzer outputs of a block, by "<instance>.<output>" (every row).
        self._tables: tuple[TapeBlock, dict[str, npt.NDArray[np.float64]]] | None = None
        self._ends: (
            tuple[TapeBlock, tuple[int, npt.NDArray[np.intp], npt.NDArray[np.int64]]] | None
        ) = None
        #: A block's rows laid out for walking stretches of rejected closes in bulk.
        self._stretches: tuple[TapeBlock, _Stretches | None] | None = None
        #: Stretches of closes walked in bulk (see skip), and their closes (part of ``closes``).
        self.bulk_stretches = 0
        self.bulk_closes = 0
        #: A block's rows as lists for the walk's loop (see _lists).
        self._row_lists: tuple[TapeBlock, _RowLists] | None = None
        #: A block's analyzers as skip's lean walk splits them: (its iters, charted names,
        #: names, tables, generators, every charted value named by one of them).
        self._split: tuple[Any, ...] | None = None
        #: Per instrument, the curves the last walk appended to (see skip's open_curves):
        #: (block, lean, prices, candles, series, charts, table charts, row charts).
        self._opened: dict[str, tuple[Any, ...]] = {}
        #: The held stretches' valuations at a mark price, for one cash, position and decimal
        #: context's precision and rounding: (cash, position, (prec, rounding), {price: float}).
        self._valued: tuple[Decimal, Any, tuple[int, str], dict[float, float]] | None = None
        #: Stretches walked in bulk while holding, and their closes (part of bulk_closes).
        self.held_stretches = 0
        self.held_bulk_closes = 0

    def _lists(self, block: TapeBlock) -> _RowLists:
        """Per row of ``block`` (every row, by block row index): its first trade at or after
        the close (block index), its close time, its count of candles and the index in
        ``block.arrays.candles`` of its candle of the strategy's timeframe (-1: none), as
        lists read by the walk's loop (no row objects). Made once per block."""
        got = self._row_lists
        if got is not None and got[0] is block:
            return got[1]
        arrays = block.arrays
        dec = np.full(len(arrays.close_ns), -1, dtype=np.intp)
        at = np.flatnonzero(arrays.candle_tf == self.engine.strategy_tf)
        dec[arrays.candle_row[at]] = at
        lists = (
            arrays.tick_end.tolist(),
            arrays.close_ns.tolist(),
            np.diff(arrays.offsets).tolist(),
            dec.tolist(),
        )
        self._row_lists = (block, lists)
        return lists

    def _verdicts(self, block: TapeBlock) -> Verdicts:
        """The first row judged, per row from it the index of the compiled gate that
        rejects it (-1: through; None when no leading gate reads only tabled outputs), and
        the gates' funnel names. Judged once per block."""
        judged = self._judged
        if judged is not None and judged[0] is block:
            return judged[1]
        e = self.engine
        first = block.total - len(block.rows)
        tables = {
            f"{name}.{key}": column[first:]
            for name, it in block.iters
            if isinstance(it, BlockTable)
            for key, column in it.arrays().items()
        }
        names = frozenset(tables)
        gates = self._gates.get(names)
        if gates is None:
            gates = self._gates[names] = GateArrays(e.config.strategy, names)
        verdicts: list[int] | None = None
        if len(gates):
            # Per row: the close of its candle of the strategy's timeframe, NaN if none (the
            # block's arrays: no candle objects).
            at, got = block.arrays.of_timeframe(e.strategy_tf)
            close = np.full(block.total, nan, dtype=np.float64)
            close[at] = got["close"]
            close = close[first:]
            # A list once per block (each walk reads it row by row; converting it per walk
            # cost the block's length per position).
            verdicts = gates.first_failing(tables, close).tolist()
        out = (first, verdicts, gates.names)
        self._judged = (block, out)
        return out

    def _plan(self, block: TapeBlock, clean: TickBatch, verdicts: Verdicts) -> _Stretches | None:
        """``block``'s rows laid out for the bulk walk (made once per block; None when its
        rows are not on the decision grid, which the close-by-close walk handles)."""
        got = self._stretches
        if got is not None and got[0] is block:
            return got[1]
        e = self.engine
        made = _Stretches(block, clean.ts_ns, e.step, e.strategy_tf, verdicts)
        plan = made if made.aligned else None
        self._stretches = (block, plan)
        return plan

    def _calm(self, st: _InstrumentState) -> bool:
        """Whether ``st`` has a block to walk and no order, command or fault pending."""
        e = self.engine
        if e.halted_at is not None or st.after_gap or st.block is None or not st.block.rows:
            return False
        if e.control.paused or e.control.has_pending() or e.stopper.requested:
            return False
        if e.venue_calls is not None or e._reconcile_every_ns is not None:
            return False
        return not (e.portfolio.open_orders() or e.orders.in_doubt() or e.orders.pending)

    def quiet(self, st: _InstrumentState) -> bool:
        """Whether nothing but the strategy can act on ``st`` until its next signal."""
        return self._calm(st) and bool(self.engine.portfolio.position(st.instrument.key).is_flat)

    def holding(self, st: _InstrumentState) -> bool:
        """Whether ``st`` holds a position that only the strategy, the exit monitors (all of
        them scanning), funding and the data's end can act on (see :meth:`hold`)."""
        if self._hold is None or not self._calm(st):
            return False
        pos = self.engine.portfolio.position(st.instrument.key)
        return not pos.is_flat and self.engine._holds(pos)

    async def hold(self, st: _InstrumentState, clean: TickBatch, i: int, limit: int) -> int:
        """Go through ``st``'s closes from trade ``i`` of ``clean`` while it holds a position,
        up to the first exit trigger; return the trade index stepping resumes at.

        The exit monitors scan the block ahead (:mod:`tradewind.trading.exit_scan`); the walk
        (:meth:`skip`'s, with the same per-close bookkeeping and the strategy's decisions)
        stops before the trades and close where the earliest of them would trigger, before
        the trades that reach the position's next funding time, and at the first signal;
        the engine steps from there and its monitors decide as ever. Requires :meth:`holding`.
        """
        e = self.engine
        monitors = self._hold
        block = st.block
        assert monitors is not None and block is not None
        key = st.instrument.key
        pos = e.portfolio.position(key)
        ctx = e.filter_context
        r0 = block.total - len(block.rows)
        ends = self._row_ends(block)
        # A scan holds for the position and the cash it saw (funding moves the guard's bound).
        ident = (pos.opened_ts_ns, pos.quantity, pos.avg_price, e.portfolio.cash)
        held = self._held
        same = held is not None and held[0] is block and held[1] == ident
        if held is not None and same and (held[2] >= r0 if held[2] is not None else held[3] > r0):
            # The tape and the monitors' state since have not changed the answer.
            _, _, trigger, horizon, span = held
        else:
            # Exits mostly come within a few closes: the scan looks HOLD_FIRST_SCAN closes
            # ahead, and twice as far each time it found nothing (the scans cost O(the walk), not
            # O(the block) per position).
            span = min(held[4] * 2, 1 << 20) if held is not None and same else HOLD_FIRST_SCAN
            horizon = min(r0 + span, block.total)
            window = self._window(block, clean, i, limit, r0, horizon)
            found = first_trigger(monitors, pos, window, ctx)
            trigger = None if found is None else r0 + found
            self._held = (block, ident, trigger, horizon, span)
        stop = limit
        if trigger is not None:
            stop = min(stop, block.start + int(ends[1][trigger - ends[0]]))
        elif horizon < block.total:  # not scanned past it: the walk stops before its unit
            stop = min(stop, block.start + int(ends[1][horizon - ends[0]]))
        venue = st.exec_venue
        if "simulated" in venue.capabilities:
            due = venue.next_funding_ts(key)
            if due is not None:
                # The trades up to the first one at or after it pay it: stepped, as ever.
                stop = min(stop, int(clean.ts_ns.searchsorted(due, side="left")) + 1)
        folded = [i]

        def fold(upto: int) -> None:
            if upto > folded[0]:
                fold_walked(monitors, pos, clean.slice(folded[0], upto), ctx)
                folded[0] = upto

        if block.start + int(ends[1][r0 - ends[0]]) >= stop:
            # The first close's trades reach the trigger's unit, the funding or the limit:
            # skip would walk nothing (it stops before that close) and the engine steps.
            self._last_walk = 0
            return i
        k = await self.skip(st, clean, i, stop, before_event=fold)
        fold(k)
        if k > i:
            self.held_closes += self._last_walk
        return k

    def _row_ends(
        self, block: TapeBlock
    ) -> tuple[int, npt.NDArray[np.intp], npt.NDArray[np.int64]]:
        """Per row of ``block`` from the first one not reached when first asked: that row's
        index, and each row's first trade (block index) and close time."""
        got = self._ends
        if got is not None and got[0] is block:
            return got[1]
        first = block.total - len(block.rows)
        ends = (first, block.arrays.tick_end[first:], block.arrays.close_ns[first:])
        self._ends = (block, ends)
        return ends

    def _window(
        self, block: TapeBlock, clean: TickBatch, i: int, limit: int, r0: int, r1: int
    ) -> HoldWindow:
        """The tape of ``block`` ahead of trade ``i``: rows ``r0`` to ``r1`` (excluded) and
        the trades before them, up to ``limit``."""
        first, tick_end, close_ns = self._row_ends(block)
        tick_end = tick_end[r0 - first : r1 - first]
        close_ns = close_ns[r0 - first : r1 - first]
        stop = min(limit, block.start + int(tick_end[-1])) if len(tick_end) else i
        ticks = clean.slice(i, max(i, stop))
        # np.clip's integers, without its per-call dispatch (~10 us, at every scan).
        row_ticks = tick_end + (block.start - i)
        np.maximum(row_ticks, 0, out=row_ticks)
        np.minimum(row_ticks, len(ticks), out=row_ticks)
        tables = self._tables
        if tables is None or tables[0] is not block:
            tables = self._tables = (
                block,
                {
                    f"{name}.{out}": column
                    for name, it in block.iters
                    if isinstance(it, BlockTable)
                    for out, column in it.arrays().items()
                },
            )
        return HoldWindow(
            ticks=ticks, row_ticks=row_ticks, close_ns=close_ns, columns=RowSpan(tables[1], r0, r1)
        )

    async def skip(
        self,
        st: _InstrumentState,
        clean: TickBatch,
        i: int,
        limit: int,
        before_event: Callable[[int], None] | None = None,
    ) -> int:
        """Go through ``st``'s closes from trade ``i`` of ``clean`` while flat; return the
        index of the trade the engine's own stepping resumes at (``i``: nothing skipped).

        Stops before a close whose first trade after it is at or past ``limit`` (the next
        data gap or the batch's end) and after the close where the strategy signals (handed
        to the engine there; ``before_event`` is called with the trade index first). Requires
        :meth:`quiet`, or :meth:`holding` (through :meth:`hold`).
        """
        e = self.engine
        block = st.block
        assert block is not None
        rows = block.rows
        step = e.step
        ts_ns = clean.ts_ns
        price = clean.price
        start = block.start
        key = st.instrument.key
        inst = st.instrument
        venue = st.exec_venue
        simulated = "simulated" in venue.capabilities
        advance = getattr(e.clock, "advance_to", None)
        portfolio = e.portfolio
        strategy = e.strategy
        strategy_tf = e.strategy_tf
        values = st.values
        sinks = e.candle_sinks
        charted = e._charted
        record: Callable[[int], None] = e._equity.record
        # The curves, made when the first close is reached (as the engine's step would).
        prices: Curve[tuple[int, float]] | None = None
        candle_curve: Curve[tuple[int, float, float, float, float, float]] = Curve()
        # The charted values, read from the rows directly where a row holds the analyzer
        # (what ``values.get`` returns after ``use_rows``): (series, instance, key, name).
        charts: list[tuple[Curve[tuple[int, float]], str, str, str]] = []
        iters = block.iters
        first, failing, gate_names = self._verdicts(block)
        by_gate = self.rejected_by_gate
        total = block.total
        host = e.notifications
        # A backtest's digests and daily summaries come due at the engine's steps (none can
        # when every notifier is an event channel: its tick does nothing, and the walk
        # need not call it nor feed the venue close by close for it).
        tick = host.tick if host is not None and not host.ticker and e._host_timed(host) else None
        skipped = 0
        control, stopper = e.control, e.stopper
        # The simulated venue gets the walked trades in one piece, before an event and at
        # the end of the walk: with no order and a flat position, feeding it close by close
        # only moves its clock and last price, which one piece leaves the same (a backtest
        # with digests feeds it close by close, as they may read it).
        venue_from = i
        # The lean walk: with no candle sink and no notifier tick (nothing else reads the
        # analyzers between closes), a close the array predicates reject needs its row only
        # for the charted values, read from the tables' columns and the other analyzers'
        # row mappings directly; the rows are handed to ``values`` (``use_rows``) only where
        # something reads them: the strategy's decide, and the last close walked.
        lean = not sinks and tick is None and values.settled
        # The block's analyzers split into tables and generators, and whether every charted
        # value names one of them: the same for every walk over the block (made once).
        split = self._split
        if split is None or split[0] is not iters or split[1] is not charted:
            names_ = [name for name, _ in iters]
            split = self._split = (
                iters,
                charted,
                names_,
                {name: it for name, it in iters if isinstance(it, BlockTable)},
                [(name, it) for name, it in iters if not isinstance(it, BlockTable)],
                all(n.partition(".")[0] in names_ for n in charted),
            )
        names = split[2]
        tables: dict[str, BlockTable] = split[3] if lean else {}
        gens: list[tuple[str, Any]] = split[4] if lean else []
        if lean:
            at = total - len(rows)
            for table_ in tables.values():
                if table_.next_row != at:
                    lean = False
                    break
            lean = lean and split[5]
            self.lean_walks += lean
        # The row not yet handed to ``values``: (block row, the other analyzers' mappings).
        unread: tuple[int, list[Mapping[str, float]]] | None = None
        # The lean walk's bookkeeping in bulk: the counters of the closes walked since the
        # last flush, and the tabled charted values (read from the tables' columns at the
        # flush, for those closes' times and rows); flushed before anything reads them (the
        # strategy's decide, an event, the walk's end).
        pend = [0, 0, 0]  # candles, decision points, rejections by the arrays
        pend_gates: dict[str, int] = {}
        pend_times: list[int] = []
        pend_rows: list[int] = []
        pend_cands: list[int] = []  # the closes' candles (indices in the block's records)
        table_charts: list[
            tuple[Curve[tuple[int, float]], Sequence[float] | npt.NDArray[np.float64] | None]
        ] = []
        row_charts: list[tuple[Curve[tuple[int, float]], int, str]] = []

        def flush() -> None:
            e.candles += pend[0]
            e.decision_points += pend[1]
            self.rejected_by_arrays += pend[2]
            pend[0] = pend[1] = pend[2] = 0
            for gate, n in pend_gates.items():
                strategy.rejected_at(gate, n)
                by_gate[gate] = by_gate.get(gate, 0) + n
            pend_gates.clear()
            if pend_times:
                # The closes' price and candle points and tabled charted values as columns.
                times = np.array(pend_times, dtype=np.int64)
                got = cands.take(np.array(pend_cands, dtype=np.intp))  # cands[...]
                assert prices is not None
                prices.extend_columns(times, got["close"])
                candle_curve.extend_columns(
                    got["open_ts_ns"], got["open"], got["high"], got["low"], got["close"],
                    got["volume"],
                )  # fmt: skip
                if table_charts:
                    at = np.array(pend_rows, dtype=np.intp)
                    for points, column in table_charts:
                        points.extend_columns(times, _column_at(column, at, len(at)))
                pend_times.clear()
                pend_rows.clear()
                pend_cands.clear()

        def open_curves() -> tuple[
            Curve[tuple[int, float]], Curve[tuple[int, float, float, float, float, float]]
        ]:
            # The curves, made when the first close is reached (as the engine's step would),
            # and the charted series read at each close; the last walk's of the instrument
            # when they are the engine's and read from the same block the same way.
            kept = self._opened.get(key)
            series = e.series.get(key) if charted else None
            if (
                kept is not None
                and kept[0] is block
                and kept[1] == lean
                and e.price_curve.get(key) is kept[2]
                and e.candle_curve.get(key) is kept[3]
                and series is kept[4]
            ):
                charts.extend(kept[5])
                table_charts.extend(kept[6])
                row_charts.extend(kept[7])
                return cast("tuple[Any, Any]", kept[2:4])
            got_prices = curve_of(e.price_curve, key)
            got_candles = curve_of(e.candle_curve, key)
            series = e.series.setdefault(key, {}) if charted else None
            if series is not None:
                for name in charted:
                    instance, _, output = name.partition(".")
                    charts.append((curve_of(series, name), instance, output, name))
            if lean:
                gen_names = [n for n, _ in gens]
                for points, instance, output, _ in charts:
                    # What values.get reads after use_rows: the table's entry (NaN without
                    # the column), or the analyzer's row mapping.
                    if instance in tables:
                        # The float64 arrays where the table has them (the same floats as
                        # its columns, which are made from them on first read).
                        table = tables[instance]
                        got = table._arrays if table._arrays is not None else table.columns
                        table_charts.append((points, got.get(output)))
                    else:
                        row_charts.append((points, gen_names.index(instance), output))
            self._opened[key] = (
                block,
                lean,
                got_prices,
                got_candles,
                series,
                tuple(charts),
                tuple(table_charts),
                tuple(row_charts),
            )
            return got_prices, got_candles

        # The walk over stretches: with every analyzer a table and the equity the ledger's
        # cash (flat, no account), the closes up to the next one the array predicates let
        # through are walked in bulk (see _Stretches and the loop below).
        # A replaced ``record`` (a hook on every equity point: a subclass's, an instance's)
        # keeps the close-by-close walk.
        curve = e._equity
        plain = type(curve).record is EquityCurve.record and "record" not in vars(curve)
        # While holding (through hold), the stretches too: their equity points valued at
        # each close's mark in bulk (see _held_stretch) when this instrument's position is
        # the only thing the valuation marks.
        held = portfolio.cash_equity() is None
        alone = held and plain and self._marks_alone(key)
        plan = (
            self._plan(block, clean, (first, failing, gate_names))
            if lean and not gens and plain and (not held or alone)
            else None
        )
        if alone:
            record = self._held_record(key)  # record's points, the position valued directly
        record_many = curve.record_many
        rejected = strategy.rejected
        # The rows as lists and the candles' records (the lean walk reads no row objects; a
        # candle object is made only for a signal's decision candle).
        tick_end_l, close_l, ncand_l, dec_l = self._lists(block)
        cands = block.arrays.candles
        inst_name = block.arrays.instrument

        def hand_over(ri: int, got_gens: list[Mapping[str, float]]) -> None:
            it_gens = iter(got_gens)
            values.use_rows(
                {name: tables[name].row(ri) if name in tables else next(it_gens) for name in names}
            )

        # The walk over stretches from row ``by_close`` on (relative to the plan's first; a
        # row no walk reaches without a plan).
        first_planned = plan.first if plan is not None else 0
        by_close = 0 if plan is not None else total
        while rows:
            k = start + tick_end_l[rows.head]  # the first trade at or after the close
            if k >= limit:
                break
            if stopper.requested or control.paused or control.has_pending():
                break  # asked for while walking (a signal, a command): the engine steps
            r = total - len(rows) - first_planned
            if r >= by_close:
                assert plan is not None
                b = plan.end(r, limit - start)
                if held and b - r < HELD_BULK_MIN:
                    # A short held stretch: close by close is cheaper than the bulk's set-up.
                    by_close = b
                elif b > r:
                    # A stretch of whole steps, each of its decisions rejected by the arrays:
                    # what the loop below does close by close, in bulk. No code but this runs
                    # between its first step and its last (no analyzer generator, no notifier,
                    # no sink, no decide, no await), so the stop and command checks of its
                    # later steps answer as the one above did, the marks of a flat portfolio
                    # without an account are read by nothing in between (the last one stays,
                    # and the count of changes), and the clock ends at the last grid time.
                    # Holding, the equity points read the marks: _held_stretch values them.
                    flush()
                    n = b - r
                    last = b - 1
                    k = start + int(plan.tick_end[last])
                    marks = int(plan.group[last] - plan.group[r]) + 1
                    fed = start + int(plan.tick_end[r]) == i
                    if fed:
                        marks -= 1  # the first step's trades were fed already
                    if held:
                        self._held_stretch(plan, r, b, fed, start, price, ts_ns, key)
                        self.held_stretches += 1
                        self.held_bulk_closes += n
                    elif marks:
                        portfolio.mark(key, float(price[k - 1]), int(ts_ns[k - 1]))
                        portfolio.changes += marks - 1
                    i = k
                    t = int(plan.grid_t[last])
                    if advance is not None:
                        advance(t)
                    st.next_boundary = t + step
                    e._barrier = t + step
                    e.candles += int(plan.cand_cum[b] - plan.cand_cum[r])
                    skipped += n
                    self.bulk_stretches += 1
                    self.bulk_closes += n
                    decided = int(plan.dec_cum[b] - plan.dec_cum[r])
                    if decided:
                        if prices is None:
                            prices, candle_curve = open_curves()
                        e.decision_points += decided
                        # The points as columns (the curves' chunks): the same values
                        # as the tuples made of them.
                        times, closes, candle_cols = plan.decisions(r, b)
                        if not held:
                            record_many(times)
                        prices.extend_columns(times, closes)
                        candle_curve.extend_columns(*candle_cols)
                        ri0 = plan.first + r
                        dec_at: np.ndarray | slice = slice(ri0, ri0 + n)
                        if decided < n:
                            dec_at = np.flatnonzero(np.diff(plan.dec_cum[r : b + 1])) + ri0
                        for points, column in table_charts:
                            points.extend_columns(times, _column_at(column, dec_at, decided))
                        cum = plan.gate_cum
                        counts = (cum[:, b] - cum[:, r]).tolist()
                        hits = [(g, c) for g, c in enumerate(counts) if c]
                        if len(hits) > 1 and any(
                            gate_names[g] not in rejected or gate_names[g] not in by_gate
                            for g, _ in hits
                        ):
                            # A gate counted for the first time: in the order stepping
                            # meets them (the funnel's order).
                            fail = plan.failing[r:b]
                            hits.sort(key=lambda gc: int(np.argmax(fail == gc[0])))
                        for g, c in hits:
                            gate = gate_names[g]
                            strategy.rejected_at(gate, c)
                            by_gate[gate] = by_gate.get(gate, 0) + c
                        self.rejected_by_arrays += decided
                    unread = (plan.first + last, [])
                    rows.drop(n)
                    continue
            if k > i:
                # The trades before the close, as the engine's step would feed them.
                if advance is not None:
                    advance(int(ts_ns[k - 1]))
                portfolio.mark(key, float(price[k - 1]), int(ts_ns[k - 1]))
                if tick is not None:
                    if simulated:
                        venue.on_trades(clean.slice(venue_from, k))
                        venue_from = k
                    tick()
            i = k
            t = (int(ts_ns[k]) // step) * step  # the grid time that trade brings the engine to
            while lean and rows and close_l[rows.head] <= t:
                ri = rows.head
                r = ri - first
                rows.drop(1)
                t_close = close_l[ri]
                if advance is not None:
                    advance(t_close)
                got_gens: list[Mapping[str, float]] = []
                for name, it in gens:
                    try:
                        got_gens.append(next(it))
                    except StopIteration:
                        raise RuntimeError(
                            f"analyzer '{name}': its block ended before the row at "
                            f"{t_close} ns; on_block must yield once per row it is given"
                        ) from None
                unread = (ri, got_gens)
                pend[0] += ncand_l[ri]
                skipped += 1
                # The row's candle of the strategy's timeframe (a close has at most one).
                ci = dec_l[ri]
                if ci >= 0:
                    if prices is None:
                        prices, candle_curve = open_curves()
                    pend[1] += 1
                    record(t_close)
                    # The price and candle points at the flush (see flush).
                    pend_times.append(t_close)
                    pend_rows.append(ri)
                    pend_cands.append(ci)
                    for points, j, output in row_charts:
                        points.append((t_close, float(got_gens[j].get(output, nan))))
                    if stopper.requested or control.paused:
                        continue  # no new entries (Engine._decide); the walk ends at the next close
                    if failing is not None and failing[r] >= 0:
                        gate = gate_names[failing[r]]
                        pend[2] += 1
                        pend_gates[gate] = pend_gates.get(gate, 0) + 1
                        continue
                    flush()
                    hand_over(ri, got_gens)
                    unread = None
                    rec = cands[ci].tolist()  # the bits a Candle object of the row holds
                    c_close: float = rec[4]
                    signal = strategy.decide(inst, c_close, t_close, values)
                    if signal is not None:
                        c = _candle(inst_name, strategy_tf, rec)
                        if simulated and venue_from < i:
                            venue.on_trades(clean.slice(venue_from, i))
                        if before_event is not None:
                            before_event(i)
                        # An event: the engine acts on it and steps from here.
                        await e._enter(st, c, t_close, signal)
                        await e._publish_pending()
                        await self._finish_reach(st, t)
                        self._count(skipped)
                        return i
            while not lean and rows and rows[0].close_ns <= t:
                r = total - len(rows) - first
                row = rows.popleft()
                t_close = row.close_ns
                if advance is not None:
                    advance(t_close)
                got: dict[str, Mapping[str, float]] = {}
                for name, it in iters:
                    try:
                        got[name] = next(it)
                    except StopIteration:
                        raise RuntimeError(
                            f"analyzer '{name}': its block ended before the row at "
                            f"{t_close} ns; on_block must yield once per row it is given"
                        ) from None
                closed = row.candles
                e.candles += len(closed)
                for sink in sinks:
                    sink(list(closed))
                values.use_rows(got)
                skipped += 1
                for c in closed:
                    if c.timeframe_ns != strategy_tf:
                        continue
                    if prices is None:
                        prices, candle_curve = open_curves()
                    e.decision_points += 1
                    record(t_close)
                    prices.append((t_close, c.close))
                    candle_curve.append((c.open_ts_ns, c.open, c.high, c.low, c.close, c.volume))
                    for points, instance, output, name in charts:
                        row_values = got.get(instance)
                        points.append(
                            (
                                t_close,
                                float(
                                    values.get(name)
                                    if row_values is None
                                    else row_values.get(output, nan)
                                ),
                            )
                        )
                    if stopper.requested or control.paused:
                        continue  # no new entries (Engine._decide); the walk ends at the next close
                    if failing is not None and failing[r] >= 0:
                        gate = gate_names[failing[r]]
                        strategy.rejected_at(gate)
                        self.rejected_by_arrays += 1
                        by_gate[gate] = by_gate.get(gate, 0) + 1
                        continue
                    signal = strategy.decide(inst, c.close, t_close, values)
                    if signal is not None:
                        if simulated and venue_from < i:
                            venue.on_trades(clean.slice(venue_from, i))
                        if before_event is not None:
                            before_event(i)
                        # An event: the engine acts on it and steps from here.
                        await e._enter(st, c, t_close, signal)
                        await e._publish_pending()
                        await self._finish_reach(st, t)
                        self._count(skipped)
                        return i
                if tick is not None:
                    tick()
            if advance is not None:
                advance(t)  # the grid time itself (no row closes there, or it just did)
            st.next_boundary = t + step
            e._barrier = t + step
        flush()
        if unread is not None:
            hand_over(*unread)
        if simulated and venue_from < i:
            venue.on_trades(clean.slice(venue_from, i))
        self._count(skipped)
        return i

    def _marks_alone(self, key: str) -> bool:
        """Whether the portfolio's equity is its cash and ``key``'s open position at its mark
        alone (no other open position, no venue account, no adopted holding waiting for its
        first mark) and marks and values as :class:`Portfolio` does: then a held stretch's
        equity points are that position's valuation at each close's mark (_held_stretch)."""
        p = self.engine.portfolio
        return (
            type(p).equity is Portfolio.equity
            and type(p).mark is Portfolio.mark
            and type(p).cash_equity is Portfolio.cash_equity
            and not p.accounts
            and not p._unpriced
            and p._start is not None
            and p._open_keys == (key,)
            and key in p._positions
        )

    def _held_record(self, key: str) -> Callable[[int], None]:
        """``EquityCurve.record`` for the closes walked one by one while holding, when
        :meth:`_marks_alone`: the same reuse (the same cash object and count of changes as the
        last valued point), counters and points, the value ``Portfolio.equity``'s Decimal sum
        for the one open position (``cash + (mark * quantity - cost)``, ``unrealized_pnl``'s
        operations) with the position's quantity and cost read once. Anything else (a cash or
        position replaced, no mark yet) goes to ``record`` itself."""
        p = self.engine.portfolio
        curve = self.engine._equity
        record = curve.record
        append = curve.points.append
        cash = p.cash
        pos = p._positions[key]
        positions = p._positions
        quantity, cost = pos.quantity, pos.cost
        last = p._last

        def held_record(ts_ns: int) -> None:
            if p.cash is not cash or positions.get(key) is not pos or key not in last:
                record(ts_ns)
                return
            curve.marked += 1
            changes = p.changes
            kept = curve._inputs
            if kept is not None and kept[0] is cash and kept[1] == changes:
                curve.reused += 1
                append((ts_ns, curve._value))
                return
            value = float(cash + (Decimal(repr(last[key])) * quantity - cost))
            curve._inputs, curve._value = (cash, changes), value
            append((ts_ns, value))

        return held_record

    def _held_stretch(
        self,
        plan: _Stretches,
        r: int,
        b: int,
        fed: bool,
        start: int,
        price: npt.NDArray[np.float64],
        ts_ns: npt.NDArray[np.int64],
        key: str,
    ) -> None:
        """A stretch walked while holding (rows ``r`` to ``b`` of ``plan``; ``fed``: its
        first step's trades were fed already): what the close-by-close walk's marks and
        equity points do, in bulk. Requires :meth:`_marks_alone`.

        Each step marks the position at its last trade (``Portfolio.mark``: the last price,
        the time, the count of changes, the day's start equity at the first mark of a UTC
        day) and each decision close records ``float(cash + unrealized P&L at the mark)``
        (``Portfolio.equity`` with one open position and no account), or the last point's
        value again when no mark came between (``EquityCurve.record``'s reuse). Here the
        points' values are that same Decimal valuation per distinct mark price, the reuse
        counted as ``record`` counts it; the portfolio gets the stretch's last day-rolling
        mark and its last mark (what every mark in turn leaves) and the count of them all."""
        e = self.engine
        p = e.portfolio
        curve = e._equity
        tick_end = plan.tick_end
        group = plan.group
        # The steps' first rows (each step marks at the trade before them), and the rows
        # with a decision (each records a point), in order.
        steps = np.flatnonzero(plan.group_start[r:b] == np.arange(r, b)) + r
        decs = np.flatnonzero(plan.dec_idx[r:b] >= 0) + r
        n_first = 0
        if fed:
            # The first step's points come before any mark of the stretch: record's own.
            steps = steps[1:]
            n_first = int(decs.searchsorted(steps[0] if len(steps) else b))
            if n_first:
                for t in plan.close_ns[decs[:n_first]].tolist():
                    curve.record(int(t))
                decs = decs[n_first:]
        changes0 = p.changes
        if len(decs):
            cash = p.cash
            pos = p._positions[key]
            dg = group[decs]
            # A point after a mark is valued; one with no mark since the last is reused.
            new = np.ones(len(decs), dtype=bool)
            new[1:] = dg[1:] != dg[:-1]
            at = start + tick_end[decs[new]] - 1
            valued = self._valued
            ctx = getcontext()  # the valuation's operations round in it
            rounds = (ctx.prec, ctx.rounding)
            if (
                valued is None
                or valued[0] is not cash
                or valued[1] is not pos
                or valued[2] != rounds
            ):
                valued = self._valued = (cash, pos, rounds, {})
            cache = valued[3]
            values: list[float] = []
            quantity, cost = pos.quantity, pos.cost
            for x in price[at].tolist():
                v = cache.get(x)
                if v is None:
                    # Portfolio.equity: cash, plus the one open position at the mark
                    # (unrealized_pnl's operations, its quantity and cost read once).
                    v = float(cash + (Decimal(repr(x)) * quantity - cost))
                    if x == x and x != 0.0:  # NaN is no key; 0.0 and -0.0 are one key
                        cache[x] = v
                values.append(v)
            got = np.array(values, dtype=np.float64)
            n_new = len(values)
            points = got[np.cumsum(new) - 1] if n_new < len(decs) else got
            times = np.array(plan.close_ns[decs], dtype=np.int64)
            curve.points.extend_columns(times, points)
            curve.marked += len(decs)
            curve.reused += len(decs) - n_new
            # What record keeps after the last valued point: the inputs it read then (the
            # count of changes up to its step's mark) and its value.
            marked_before = int(group[steps].searchsorted(dg[-1], side="right"))
            curve._inputs = (cash, changes0 + marked_before)
            curve._value = values[-1]
        if len(steps):
            at = start + tick_end[steps] - 1
            days = ts_ns[at] // NS_PER_DAY
            rolls = np.flatnonzero(days[1:] != days[:-1]) + 1
            if int(days[0]) != p._day:
                rolls = np.concatenate(([0], rolls))
            if len(rolls) and int(rolls[-1]) != len(at) - 1:
                # The last mark that rolls the day (its start equity is valued there).
                x = int(at[rolls[-1]])
                p.mark(key, float(price[x]), int(ts_ns[x]))
            x = int(at[-1])
            p.mark(key, float(price[x]), int(ts_ns[x]))
            p.changes = changes0 + len(steps)

    async def _finish_reach(self, st: _InstrumentState, t: int) -> None:
        """The rest of the engine's step to grid time ``t`` after an event on the way."""
        e = self.engine
        assert st.block is not None
        for close in st.block.closes_before(t):
            await e._on_boundary(st, close)
        await e._on_boundary(st, t)
        st.next_boundary = t + e.step
        e._barrier = t + e.step

    def _count(self, skipped: int) -> None:
        self._last_walk = skipped
        if skipped:
            self.closes += skipped
            self.stretches += 1
