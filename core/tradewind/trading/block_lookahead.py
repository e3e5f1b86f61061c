"""Blocks of several replayed instruments that reach past the feed's interval batches.

With several replayed instruments the feed hands each instrument's trades over one decision
interval at a time (:func:`tradewind.venues.replay.merge_by_interval` and the replay venue's
own interval merge), so that no instrument decides on another's later trades. A block
(:mod:`tradewind.blocks`) opened over such a batch holds one interval: the analyzers' block
kernels, the candle aggregator and the row grouping then run once per instrument and
interval, a fixed cost that dominated a 100-instrument backtest.

Analyzer outputs depend only on the instrument's own tape, never on the portfolio or on
other instruments, so an instrument's block may reach ahead of the feed without reading
anything the engine has not reached: the engine still takes a row only when the merged
feed brings it to that close (``TapeBlock.take`` at its boundaries, in the order stepping
uses), and exits, fills, marks and filters still see the trades batch by batch. Only the
analyzers and the candles are computed ahead, which gives the same bits whatever the block
(the block-identity guarantee). :class:`Lookahead` opens such a block from the replay
venue's whole series of the instrument (:meth:`ReplayVenue.tape`) and, as each of the
instrument's batches arrives, re-bases the block's trade indices onto that batch.

A block reaches ahead only over trades the validator will accept unchanged (checked once,
vectorised, when the block opens, so the validator takes the batches inside it without
checking them again: ``TickValidator.accept_checked``) and never across a data gap; otherwise
the block ends with the batch, as before. ``[run] block_ticks`` is shared by the instruments
(each block holds at most ``block_ticks / min(instruments, MAX_SHARES)`` trades), so the memory
held ahead stays bounded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from tradewind.blocks import TapeBlock
from tradewind.market.gaps import gap_starts
from tradewind.market.validation import validate
from tradewind.protocols import ReplayCapability

if TYPE_CHECKING:
    from tradewind.market.validation import ValidationResult
    from tradewind.model import TickBatch
    from tradewind.trading.engine import Engine, _InstrumentState


#: ``[run] block_ticks`` is split into at most this many shares, one per instrument: with
#: more instruments each block still holds ``block_ticks / MAX_SHARES`` trades (50,000 at the
#: default). Each block's set-up (the candles of the block, every analyzer's ``on_block`` with
#: the window it carries over) costs about the same whatever the block's length: 100
#: instruments sharing 1,000,000 trades in blocks of 10,000 spent about a third of the run's
#: CPU there. The trades ahead are views of the replay's series, already in memory; only the
#: blocks' candles and tables add to it (that run's RSS at its end: 726 MB in blocks of
#: 50,000 against 650 MB in blocks of 10,000; its peak, the replay load's, the same).
MAX_SHARES = 20


class _Track:
    """One instrument's place in its replayed series (see :class:`Lookahead`)."""

    __slots__ = (
        "base",
        "block",
        "end",
        "fed",
        "first",
        "ids",
        "increasing",
        "tape",
        "ts",
        "unsynced",
    )

    def __init__(self, tape: TickBatch) -> None:
        self.tape = tape
        #: The series' timestamps and trade ids (read once per batch).
        self.ts = tape.ts_ns
        self.ids = tape.trade_id
        #: Series index of the current batch's first trade (None: no batch arrived yet).
        self.base: int | None = None
        #: Series index of the next batch's first trade.
        self.fed = 0
        #: The open block reaching past its batch (None: none), the series indices it covers
        #: and whether its trade ids past the opening batch strictly increase.
        self.block: TapeBlock | None = None
        self.first = 0
        self.end = 0
        self.increasing = False
        #: Series index of the first trade taken by :class:`QuietBatches` that the validator
        #: has not been told of yet (None: it knows every trade fed; see
        #: :meth:`QuietBatches.sync`).
        self.unsynced: int | None = None


class Lookahead:
    """Per instrument: its replayed series, how much of it the feed has delivered, and the
    span of the series its open block covers."""

    def __init__(self, engine: Engine, block_ticks: int) -> None:
        self.engine = engine
        #: Trades per block of one instrument: ``[run] block_ticks`` shared by the instruments,
        #: in at most ``MAX_SHARES`` shares, so the trades held ahead stay bounded (100
        #: instruments with whole-tape blocks once took the run's peak RSS from 0.92 to
        #: 1.2 GB) while each block stays long enough for its fixed set-up not to dominate.
        shares = min(max(1, len(engine.state)), MAX_SHARES)
        self.block_ticks = max(1, block_ticks // shares)
        #: Instrument key -> its place in its series (None: no read-ahead for it). One object
        #: per instrument, so a batch reads one dict entry (the series, the position fed,
        #: the open block's span were four dicts).
        self._tracks: dict[str, _Track | None] = {}
        #: Batches taken as validated when their block opened (not checked again).
        self.prevalidated = 0
        #: Blocks opened past their batch (for the tests and the benchmark).
        self.opened = 0
        #: The batch :meth:`validated` last found to be its instrument's next trades of the
        #: series, and that instrument's track (so :meth:`arrived` does not compare again).
        self._matched: TickBatch | None = None
        self._matched_track: _Track | None = None
        #: Batches :meth:`arrived` took as :meth:`validated` matched them (no second look).
        self.matched = 0

    def _track(self, st: _InstrumentState) -> _Track | None:
        key = st.key
        if key in self._tracks:
            return self._tracks[key]
        venue = self.engine.venues[st.data_venue]
        tape = cast(ReplayCapability, venue).tape(key) if "replay" in venue.capabilities else None
        track = self._tracks[key] = None if tape is None else _Track(tape)
        return track

    def validated(self, st: _InstrumentState, batch: TickBatch) -> ValidationResult | None:
        """``batch`` validated, when it lies inside ``st``'s open block past the batch the
        block opened in (those trades were validated as one stretch then, from the validator's
        state, and accepted whole): the validator takes it without checking it again. None
        otherwise (the engine validates it)."""
        track = self._tracks.get(st.key)
        if track is None or track.block is None or track.block is not st.block:
            return None
        base = track.fed
        n = len(batch)
        if (
            n == 0
            or base + n > track.end
            or track.ts.item(base) != batch.ts_ns.item(0)
            or track.ids.item(base) != batch.trade_id.item(0)
        ):
            return None
        self.prevalidated += 1
        self._matched = batch
        self._matched_track = track
        return st.validator.accept_checked(batch, increasing=track.increasing)

    def arrived(self, st: _InstrumentState, batch: TickBatch, accepted: int) -> None:
        """``batch`` (``accepted`` of its trades passed validation) is ``st``'s next: move
        the series position on and re-base an open block's indices onto the batch."""
        if self._matched is batch:
            # validated() found it the series' next trades and took it whole (no rejects).
            track = self._matched_track
            self._matched = self._matched_track = None
            self.matched += 1
            assert track is not None and st.block is not None
            base = track.base = track.fed
            track.fed = base + len(batch)
            st.block.start = track.first - base
            st.block.end = track.end - base
            return
        self._matched = self._matched_track = None
        track = self._track(st)
        if track is None:
            return
        n = len(batch)
        base = track.fed
        open_span = track.block is not None and track.block is st.block
        if (
            base + n > len(track.tape)
            or track.ts.item(base) != batch.ts_ns.item(0)
            or track.ids.item(base) != batch.trade_id.item(0)
            or accepted != n
        ):
            # Not the series' next trades, or some were rejected: no read-ahead from here.
            key = st.key
            if open_span:
                raise RuntimeError(
                    f"instrument '{key}': its block read trades ahead of the feed, but the "
                    f"feed's next batch (from {int(batch.ts_ns[0])} ns) is not those trades"
                )
            self._tracks[key] = None
            return
        track.base = base
        track.fed = base + n
        if open_span:
            assert st.block is not None
            st.block.start = track.first - base
            st.block.end = track.end - base
        else:
            track.block = None

    def open(self, st: _InstrumentState, clean: TickBatch, i: int, limit: int) -> bool:
        """Open ``st.block`` from trade ``i`` of the current batch over up to ``block_ticks``
        trades of the series, past the batch; False when it would not reach past the batch
        (the engine opens its ordinary block then)."""
        track = self._tracks.get(st.key)
        n = len(clean)
        if track is None or limit < n or track.base is None:
            return False  # no series, or a data gap inside this batch ends the block there
        tape = track.tape
        base = track.base
        start = base + i
        stop = len(tape)
        if start + self.block_ticks < stop:
            ts = tape.ts_ns
            # A timestamp is never split between two blocks.
            stop = int(ts.searchsorted(ts[start + self.block_ticks - 1], side="right"))
        after = base + n  # the first trade past the current batch
        if stop <= after:
            return False
        ahead = tape.slice(after, stop)
        holes = gap_starts(ahead.ts_ns, int(clean.ts_ns[-1]), self.engine.max_gap)
        if holes:
            stop = after + holes[0]  # the block ends before the next data gap
            if stop <= after:
                return False
            ahead = tape.slice(after, stop)
        validator = st.validator
        if validate(ahead, last_ts_ns=validator.last_ts_ns, seen_ids=validator.seen_ids).rejected:
            return False
        ids = ahead.trade_id
        increasing = bool((ids[1:] > ids[:-1]).all())
        ticks = tape.slice(start, stop)
        block = TapeBlock.open(ticks, stop - base, st.aggregator.update_arrays(ticks), st.analyzers)
        st.block = block
        track.block, track.first, track.end, track.increasing = block, start, stop, increasing
        self.opened += 1
        return True
