"""The look-ahead's one record per instrument against the previous four dicts: the same
journal, result and counters (tradewind.trading.block_lookahead)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import anyio
import pytest
from tradewind.blocks import TapeBlock
from tradewind.config import load_config
from tradewind.journal.store import TABLES
from tradewind.market.gaps import gap_starts
from tradewind.market.validation import validate
from tradewind.protocols import ReplayCapability
from tradewind.trading.block_lookahead import MAX_SHARES, Lookahead
from tradewind.trading.engine import Engine

from tests.test_determinism import _rows
from tests.test_event_scheduler_multi import _multi_config, _tapes

if TYPE_CHECKING:
    from pathlib import Path

    from tradewind.market.validation import ValidationResult
    from tradewind.model import TickBatch
    from tradewind.trading.engine import _InstrumentState


class OldLookahead:
    """The previous :class:`Lookahead` (four dicts per instrument), kept as the reference."""

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


def _run(cfg: Path, journal: Path, old: bool) -> tuple[dict, object, Engine]:
    engine = Engine(load_config(cfg), run_id="multi", journal_path=str(journal))
    assert isinstance(engine._lookahead, Lookahead)
    if old:
        engine._lookahead = OldLookahead(engine, engine.config.run.block_ticks)  # type: ignore[assignment]
    result = anyio.run(engine.run)
    return _rows(journal), result, engine


@pytest.mark.parametrize(
    ("count", "hole", "block", "latency_ms"),
    [
        (3, True, 3_000, 25),  # blocks of 1,000 trades, one ending at a data gap
        (3, False, 1_000_000, 90_000),  # orders in flight across closes
        (24, False, 24_000, 25),  # more instruments than shares
    ],
)
def test_one_record_per_instrument_gives_the_four_dicts_run(
    tmp_path: Path, count: int, hole: bool, block: int, latency_ms: int
) -> None:
    data = tmp_path / "tapes.parquet"
    symbols = _tapes(data, count, 12_000 if count < 10 else 3_000, 1.0, sample=False, hole=hole)
    cfg = _multi_config(tmp_path, data, symbols, scheduler=True, block=block, latency_ms=latency_ms)
    base_rows, base, before = _run(cfg, tmp_path / "old.duckdb", True)
    rows, result, after = _run(cfg, tmp_path / "new.duckdb", False)
    assert isinstance(before._lookahead, OldLookahead)
    assert type(after._lookahead) is Lookahead
    b, a = before._lookahead, after._lookahead
    assert (a.opened, a.prevalidated, a.matched, a.block_ticks) == (
        b.opened,
        b.prevalidated,
        b.matched,
        b.block_ticks,
    )
    assert a.opened >= count and a.prevalidated > 0 and a.matched == a.prevalidated
    assert base.summary["funnel"]["signals"] >= 2
    for table in TABLES:
        assert rows[table] == base_rows[table], table
    assert result.summary == base.summary
    assert (after.candles, after.decision_points, after.ticks) == (
        before.candles,
        before.decision_points,
        before.ticks,
    )
    assert result.equity_curve == base.equity_curve
    assert result.series == base.series
    assert result.candles == base.candles
    assert result.price_curve == base.price_curve
    fills = [(f.ts_ns, f.instrument, f.side, f.quantity, f.price, f.fee) for f in result.fills]
    assert fills == [
        (f.ts_ns, f.instrument, f.side, f.quantity, f.price, f.fee) for f in base.fills
    ]
    assert result.closed_trades == base.closed_trades
    assert len(result.data_gaps) == len(base.data_gaps) == (1 if hole else 0)
