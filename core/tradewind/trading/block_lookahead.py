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
        #: Instrument key -> its whole series (None: no read-ahead for it).
        self._tapes: dict[str, TickBatch | None] = {}
        #: Instrument key -> series index of the current batch's first trade.
        self._base: dict[str, int] = {}
        #: Instrument key -> series index of the next batch's first trade.
        self._fed: dict[str, int] = {}
        #: Instrument key -> (block, first series index, end series index, whether the trade
        #: ids past the opening batch strictly increase) of its open block.
        self._spans: dict[str, tuple[TapeBlock, int, int, bool]] = {}
        #: Batches taken as validated when their block opened (not checked again).
        self.prevalidated = 0
        #: Blocks opened past their batch (for the tests and the benchmark).
        self.opened = 0
        #: The batch :meth:`validated` last found to be its instrument's next trades of the
        #: series (so :meth:`arrived` does not compare them again).
        self._matched: TickBatch | None = None
        #: Batches :meth:`arrived` took as :meth:`validated` matched them (no second look).
        self.matched = 0

    def _tape(self, st: _InstrumentState) -> TickBatch | None:
        key = st.instrument.key
        if key in self._tapes:
            return self._tapes[key]
        venue = self.engine.venues[st.data_venue]
        tape = cast(ReplayCapability, venue).tape(key) if "replay" in venue.capabilities else None
        self._tapes[key] = tape
        self._fed[key] = 0
        return tape

    def validated(self, st: _InstrumentState, batch: TickBatch) -> ValidationResult | None:
        """``batch`` validated, when it lies inside ``st``'s open block past the batch the
        block opened in (those trades were validated as one stretch then, from the validator's
        state, and accepted whole): the validator takes it without checking it again. None
        otherwise (the engine validates it)."""
        key = st.instrument.key
        span = self._spans.get(key)
        tape = self._tapes.get(key)
        if span is None or tape is None or span[0] is not st.block:
            return None
        base = self._fed[key]
        n = len(batch)
        if (
            n == 0
            or base + n > span[2]
            or int(tape.ts_ns[base]) != int(batch.ts_ns[0])
            or int(tape.trade_id[base]) != int(batch.trade_id[0])
        ):
            return None
        self.prevalidated += 1
        self._matched = batch
        return st.validator.accept_checked(batch, increasing=span[3])

    def arrived(self, st: _InstrumentState, batch: TickBatch, accepted: int) -> None:
        """``batch`` (``accepted`` of its trades passed validation) is ``st``'s next: move
        the series position on and re-base an open block's indices onto the batch."""
        key = st.instrument.key
        n = len(batch)
        if self._matched is batch:
            # validated() found it the series' next trades and took it whole (no rejects).
            self._matched = None
            self.matched += 1
            _, first, end, _ = self._spans[key]
            base = self._fed[key]
            self._base[key] = base
            self._fed[key] = base + n
            assert st.block is not None
            st.block.start = first - base
            st.block.end = end - base
            return
        self._matched = None
        tape = self._tape(st)
        if tape is None:
            return
        base = self._fed[key]
        span = self._spans.get(key)
        open_span = span is not None and span[0] is st.block
        if (
            base + n > len(tape)
            or int(tape.ts_ns[base]) != int(batch.ts_ns[0])
            or int(tape.trade_id[base]) != int(batch.trade_id[0])
            or accepted != n
        ):
            # Not the series' next trades, or some were rejected: no read-ahead from here.
            if open_span:
                raise RuntimeError(
                    f"instrument '{key}': its block read trades ahead of the feed, but the "
                    f"feed's next batch (from {int(batch.ts_ns[0])} ns) is not those trades"
                )
            self._tapes[key] = None
            self._spans.pop(key, None)
            return
        self._base[key] = base
        self._fed[key] = base + n
        if open_span:
            assert span is not None and st.block is not None
            st.block.start = span[1] - base
            st.block.end = span[2] - base
        elif span is not None:
            del self._spans[key]

    def open(self, st: _InstrumentState, clean: TickBatch, i: int, limit: int) -> bool:
        """Open ``st.block`` from trade ``i`` of the current batch over up to ``block_ticks``
        trades of the series, past the batch; False when it would not reach past the batch
        (the engine opens its ordinary block then)."""
        key = st.instrument.key
        tape = self._tapes.get(key)
        n = len(clean)
        if tape is None or limit < n or key not in self._base:
            return False  # no series, or a data gap inside this batch ends the block there
        base = self._base[key]
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
        self._spans[key] = (block, start, stop, increasing)
        self.opened += 1
        return True
