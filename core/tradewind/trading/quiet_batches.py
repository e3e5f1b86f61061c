"""Feed batches of several replayed instruments that nothing but the clock and the mark read.

A backtest of several instruments reads the replay's interval batches itself
(``Engine._consume_direct``): every instrument's trades of every decision interval are one
batch, ~100 of them per interval with a hundred instruments. Most of them belong to an
instrument that holds no position and has no order at the simulated venue, inside a block
that read its trades ahead (:mod:`tradewind.trading.block_lookahead`): all
:meth:`Engine.on_batch` does with such a batch is bookkeeping. The look-ahead checks it is
the series' next trades and the validator takes it without checking it again, the series'
position and the block's indices move on, the engine counts its trades and keeps its last
time, the clock moves, the portfolio marks the last price and the venue matches it against
no order (:meth:`QuietCloses.ticks`).

:meth:`QuietBatches.take` does exactly that for such a batch, in the same order, as one
function over the engine's and the instrument's state read once, instead of the chain of
calls ``on_batch`` makes to get there (the control's check, the look-ahead's ``validated``
and ``arrived``, the validator's result object, the gap scan, the boundary search, the
quiet ticks' checks and ``_advance``). Any batch it cannot take whole that way (the first of
an interval, which brings every instrument to the grid time first; one past the block; one
after a data gap; one of an instrument holding a position or with an order at the venue; a
command pending) goes through ``on_batch`` unchanged. The result is ``on_batch``'s, bit for
bit (tests/test_quiet_batches.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from tradewind.model import TickBatch
    from tradewind.trading.block_lookahead import Lookahead, _Track
    from tradewind.trading.engine import Engine, _InstrumentState


#: :meth:`QuietBatches.take_now`'s answers.
NOT_TAKEN = 0
TAKEN = 1
TAKEN_PUBLISH = 2


class QuietBatches:
    """Takes an engine's quiet feed batches of several instruments (module docstring)."""

    def __init__(self, engine: Engine, lookahead: Lookahead) -> None:
        self.engine = engine
        #: The engine's look-ahead at start-up, whose tracks this reads and moves on.
        self.lookahead = lookahead
        #: Batches taken here (not through ``Engine.on_batch``).
        self.taken = 0
        #: The engine's clock and its ``advance_to`` (None: a clock without one), looked up
        #: once per clock instead of at every batch (``Engine._advance``'s ``hasattr``).
        self._clock: object = None
        self._advance: Callable[[int], None] | None = None

    async def take(self, batch: TickBatch) -> bool:
        """``batch`` taken as :meth:`Engine.on_batch` takes it, when it is a quiet one (module
        docstring); False (nothing done) otherwise."""
        taken = self.take_now(batch)
        if taken == TAKEN_PUBLISH:
            await self.engine._publish_pending()
            self.end(batch)
        return taken != NOT_TAKEN

    def take_now(self, batch: TickBatch) -> int:
        """:meth:`take` without a coroutine: ``TAKEN`` (taken whole), ``TAKEN_PUBLISH``
        (taken up to the step's end: the caller awaits ``Engine._publish_pending``, then
        calls :meth:`end`) or ``NOT_TAKEN`` (nothing done but the validator told)."""
        e = self.engine
        key = batch.instrument
        # The engine's look-ahead and quiet ticks as they are now (either may be switched
        # off or replaced after start-up: batches then go through ``on_batch`` alone).
        look = self.lookahead
        if e._lookahead is not look:
            return NOT_TAKEN
        track = look._tracks.get(key)
        st = self._take(batch, key, track, look, e._quiet_ticks)
        if st is None:
            if track is not None and track.unsynced is not None:
                # The validator told before on_batch reads it (its ``validate``, the
                # look-ahead's ``accept_checked`` and ``open``).
                self.sync(key)
            return NOT_TAKEN
        if not e._nothing_to_publish():  # the step's end, as ``on_batch`` has it
            return TAKEN_PUBLISH
        block = st.block
        assert block is not None
        if len(batch) >= block.end:  # the batch reached the block's end
            block.finish()
            st.block = None
        self.taken += 1
        return TAKEN

    def end(self, batch: TickBatch) -> None:
        """The end of a batch :meth:`take_now` took up to the step's end, after it: the
        block's end when the batch reached it."""
        st = self.engine.state[batch.instrument]
        block = st.block
        assert block is not None
        if len(batch) >= block.end:
            block.finish()
            st.block = None
        self.taken += 1

    def _take(
        self, batch: TickBatch, key: str, track: _Track | None, look: Lookahead, quiet: Any
    ) -> _InstrumentState | None:
        """:meth:`take` up to the step's end; None (nothing done) when the batch needs
        ``on_batch``."""
        e = self.engine
        if quiet is None or e.control.has_pending() or key in e.unsubscribed:
            return None
        st = e.state[key]
        block = st.block
        if track is None or block is None or track.block is not block or st.after_gap:
            return None
        ts = batch.ts_ns
        n = len(ts)
        base = track.fed
        if n == 0 or base + n > track.end:
            return None
        first = ts.item(0)
        last = ts.item(-1)
        if track.ts.item(base) != first or track.ids.item(base) != batch.trade_id.item(0):
            return None  # not the series' next trades (the look-ahead's ``validated``)
        # Inside the interval the engine has reached (else ``_reach`` comes first), before the
        # instrument's next decision point, and no hole before or inside the batch.
        barrier = e._barrier
        boundary = st.next_boundary
        prev_ts = st.last_ts
        if (
            barrier is None
            or first >= barrier
            or boundary is None
            or last >= boundary
            or prev_ts is None
            or first - prev_ts > e.max_gap
            or last - first > e.max_gap
        ):
            return None
        venue = st.exec_venue
        simulated = "simulated" in venue.capabilities
        if simulated and venue.next_fill_ts(batch) is not None:
            return None  # an order may fill in it
        portfolio = e.portfolio
        if e.exits:
            pos = portfolio.position(key)
            if pos.quantity and e._holds(pos):
                return None  # exit monitors watch these trades
        # The look-ahead's ``validated``; the validator's ``accept_checked`` of this batch
        # and the others of the stretch is one call, made when it is next read (``sync``).
        look.prevalidated += 1
        if track.unsynced is None:
            track.unsynced = base
        # ... its ``arrived``: the series' position and the block's indices on this batch.
        look.matched += 1
        track.base = base
        track.fed = base + n
        block.start = track.first - base
        block.end = track.end - base
        e.ticks += n
        st.last_ts = last
        st.cash_start = portfolio.cash
        # ``QuietCloses.ticks`` and ``Engine._advance``: the clock, the mark, the venue.
        quiet.pieces += 1
        clock = e.clock
        if clock is not self._clock:
            self._clock, self._advance = clock, getattr(clock, "advance_to", None)
        if self._advance is not None:
            self._advance(last)
        portfolio.mark(key, batch.price.item(-1), last)
        if simulated:
            venue.on_trades(batch)
        return st

    def sync(self, key: str) -> None:
        """Tell instrument ``key``'s validator of the trades taken since it was last told:
        what ``accept_checked`` of each batch in turn leaves (the count, the last time, and
        the ids as one piece: the stretch's batches are consecutive trades of the series
        inside one block, so their ids strictly increase across the junctions exactly when
        the block's do, and ``RecentIds`` adds pieces added later as one)."""
        track = self.lookahead._tracks.get(key)
        if track is None or track.unsynced is None:
            return
        lo, hi = track.unsynced, track.fed
        track.unsynced = None
        validator = self.engine.state[key].validator
        validator.take_checked(track.tape.slice(lo, hi), increasing=track.increasing)

    def sync_all(self) -> None:
        """:meth:`sync` of every instrument (the run's end, or a stop)."""
        for key in self.lookahead._tracks:
            self.sync(key)

    def unsynced(self, key: str) -> int:
        """Trades of ``key`` taken here that its validator has not been told of yet."""
        track = self.lookahead._tracks.get(key)
        return 0 if track is None or track.unsynced is None else track.fed - track.unsynced


def quiet_batches(engine: Engine) -> QuietBatches | None:
    """The engine's :class:`QuietBatches`, when its batches may go that way: several replayed
    instruments over blocks reading ahead, quiet closes and ticks, and the engine's own
    batch, tick and advance steps (a subclass overriding one keeps them)."""
    from tradewind.trading.engine import Engine

    cls: Any = type(engine)
    lookahead = engine._lookahead
    if (
        lookahead is None
        or engine._quiet_ticks is None
        or cls.on_batch is not Engine.on_batch
        or cls._reach is not Engine._reach
    ):
        return None
    return QuietBatches(engine, lookahead)
