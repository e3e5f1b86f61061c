"""The stepped closes' per-step paths (issue 17, thirteenth session) change no value.

``Engine._on_ticks`` (the piece's reads once, the decision's cut by :func:`_after`), the
simulated venue's ``on_trades`` with one open order, the portfolio's equity computed afresh
(``unrealized_pnl`` inlined), the max-hold exit's check of the batch's last trade before its
search and the exits' ``len`` of a batch's column: each is checked against the code before,
kept here verbatim — backtests (the shipped sample, synthetic ticks at ~80 and ~1,600 trades a
minute, positions held over many closes, the tight guard with the adverse exit, data gaps;
stepping every close and the event scheduler) give the same rows in every journal table, the
same summary, curves, charted series, candles and fills; random venue sessions the same
reports, fills, cash and positions; random max-hold calls the same decisions and state. (The
equity computed afresh against the code before over random portfolios, accounts and decimal
contexts: test_sim_fill_fast_path.py::test_the_kept_equity_is_the_equity_computed_afresh.)"""

from __future__ import annotations

import random
from decimal import Decimal, getcontext
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tradewind.model import ExitDecision, Position, TickBatch
from tradewind.protocols import RiskContext
from tradewind.trading import engine as engine_module
from tradewind.trading.engine import Engine, _after
from tradewind.trading.portfolio import Portfolio
from tradewind.venues.sim import SimulatedVenue
from tradewind_exit_adverse.plugin import FEW as ADVERSE_FEW
from tradewind_exit_adverse.plugin import AdverseMoves, advance, scan
from tradewind_exit_guard.plugin import PortfolioGuard
from tradewind_exit_maxhold.plugin import NS_PER_MINUTE, MaxHold, MaxHoldConfig
from tradewind_exit_trailing.plugin import FEW as TRAILING_FEW
from tradewind_exit_trailing.plugin import TrailingStop

from tests.test_block_identity import _synthetic
from tests.test_event_scheduler import (
    BUSY_PRIMARY,
    LONG_HOLDS,
    ONE_EXIT,
    SAMPLE,
    _run,
    _with_holes,
)
from tests.test_sim_fill_fast_path import _play

AsOf = engine_module.AsOf
attrs = engine_module.attrs


async def _old_on_ticks(self: Engine, st: Any, piece: TickBatch) -> None:
    """``Engine._on_ticks`` as it was before (verbatim, but for this line and the step's
    events published as a step ends in a backtest, which came later with the journal's
    batch-independent ``seq``).

    The piece is consumed in steps that end at the next trade where something can change
    a position — a fill (the simulated venue says when one can next happen) or an exit
    trigger — so exit monitors see every trade after a position opens exactly once, and
    a close order only meets trades printed after its decision. The result is the same
    as feeding the tape one trade at a time.
    """
    key = st.instrument.key
    venue = st.exec_venue
    simulated = "simulated" in venue.capabilities
    rest = piece
    n = len(rest.ts_ns)
    while n:
        end = n
        gap_print = st.after_gap
        if gap_print:
            # The first trade after a data gap: exits are evaluated on it alone, and one
            # that triggers (a stop the price jumped across) fills at it.
            st.after_gap = False
            end = int(rest.ts_ns.searchsorted(rest.ts_ns[0], side="right"))
        if simulated:
            fill_ts = venue.next_fill_ts(rest)
            if fill_ts is not None:
                end = min(end, _after(rest.ts_ns, fill_ts))
        pos = self.portfolio.position(key)
        decision: ExitDecision | None = None
        window = rest if end == n else rest.slice(0, end)
        if self.exits and self._holds(pos):
            ctx: Any = self.filter_context
            if self._snapshot is not None:
                ctx = AsOf(
                    self.portfolio,
                    key,
                    self._snapshot,
                    st.cash_start,
                    rest.first_ts,
                    self.filter_context.analyzer_values,
                )
            for mon in self.exits:
                d = mon.on_ticks(pos, window, ctx)
                if d is not None and (decision is None or d.ts_ns < decision.ts_ns):
                    decision = d
            if decision is not None:
                # A decision stamped before the window (a monitor's own clock) acts at
                # the window's first trade: at least one trade is always consumed.
                cut = int(rest.ts_ns.searchsorted(decision.ts_ns, side="right"))
                end = max(1, min(end, cut))
        # The window unless an exit cut it shorter (one slice fewer per step).
        head = window if end == len(window.ts_ns) else rest.slice(0, end)
        self._advance(head, simulated, venue)
        if decision is not None and gap_print:
            at = (float(rest.price[0]), int(rest.ts_ns[0]))
            await self._close_at(st, attrs.evolve(decision, price=at[0]), at)
        elif decision is not None:
            await self._close_position(st, decision)
        # The position closed to nothing (or dust) in this step: the monitors forget it.
        # The same position object as before the step is held or not alike at the one
        # current mark (``h and not h``): nothing to ask then.
        after = self.portfolio.position(key)
        if after is not pos and self.exits and self._holds(pos) and not self._holds(after):
            for mon in self.exits:
                mon.forget(key)
        if end == n:
            break
        if self.orders.pending and not (self.journal is not None and self.journal.durable):
            await self._publish_pending()
        rest = rest.slice(end, n)
        n -= end
    if st.block is None:  # a block has fed them already
        st.aggregator.update(piece)
        for a in st.tick_analyzers:
            a.on_ticks(piece)
    if not self._nothing_to_publish():  # else the call would do nothing (the same state)
        await self._publish_pending()


def _old_on_trades(self, batch: TickBatch) -> None:
    """``SimulatedVenue.on_trades`` as it was before (verbatim, but for this line)."""
    ts = batch.ts_ns
    if len(ts) == 0:
        return
    cfg = self.config
    if cfg.funding_rate is not None or cfg.funding_file is not None:
        # (Without either, ``_settle_funding`` returns before it reads or writes anything.)
        self._settle_funding(batch)
    key = batch.instrument
    last_ts = int(ts[-1])
    if last_ts > self._now:
        self._now = last_ts
    clock = self._clock
    if last_ts > clock.get(key, 0):
        clock[key] = last_ts
    orders = self._open.get(key)
    if orders:
        for so in list(orders):
            self._match(so, batch)
        self._open[key] = [so for so in orders if not so.status.is_terminal]
    self._last[key] = float(batch.price[-1])


def _old_maxhold_on_ticks(
    self, position: Position, batch: TickBatch, ctx: RiskContext
) -> ExitDecision | None:
    """The first trade of ``batch`` at or after the deadline, if any."""
    if position.is_flat or len(batch) == 0:
        return None
    if position.opened_ts_ns == 0:
        self._first_seen.setdefault(position.instrument, batch.first_ts)
    due = self.deadline(position)
    assert due is not None
    i = int(batch.ts_ns.searchsorted(due, side="left"))
    if i >= len(batch):
        return None
    held_min = (int(batch.ts_ns[i]) - (due - self.limit_ns)) / NS_PER_MINUTE
    return ExitDecision(
        monitor=self.name,
        reason=(
            f"max hold time {self.config.max_hold_minutes:g} min reached (held {held_min:.2f} min)"
        ),
        ts_ns=int(batch.ts_ns[i]),
        price=float(batch.price[i]),
    )


def _old_adverse_on_ticks(
    self, position: Position, batch: TickBatch, ctx: RiskContext
) -> ExitDecision | None:
    """The first sample trade of ``batch`` at which the adverse run reaches the threshold."""
    if position.is_flat or len(batch) == 0:
        return None
    long = position.quantity > 0
    state = self._sampling(position, batch)
    if len(batch) <= ADVERSE_FEW:
        return self._on_few(position, batch, state, long)
    samples = scan(batch.ts_ns, batch.price, state, self.interval_ns, 1 if long else -1)
    if len(samples) == 0:
        return None
    counted = np.minimum(samples.run, self.max_moves)
    required = self.tiers.required(samples.price, position.avg_price, long)
    hits = np.flatnonzero(counted >= required)
    if len(hits) == 0:
        advance(state, samples)
        return None
    i = int(hits[0])
    advance(state, samples, upto=i)
    row = int(samples.row[i])
    return self._decision(position, batch, row, int(counted[i]), int(required[i]), long)


def _old_trailing_on_ticks(
    self, position: Position, batch: TickBatch, ctx: RiskContext
) -> ExitDecision | None:
    """The first trade of ``batch`` at or through the trailing stop, if any."""
    if position.is_flat or len(batch) == 0:
        return None
    key = position.instrument
    if self._opened.get(key) != position.opened_ts_ns:
        self._opened[key] = position.opened_ts_ns
        self._best.pop(key, None)
    prices = batch.price
    if len(prices) <= TRAILING_FEW:
        found = self._first_few(position, prices.tolist())
        if found is not None:
            i, best = found
            if i < 0:
                self._best[key] = best
                return None
            self._best[key] = best
            return ExitDecision(
                monitor=self.name,
                reason=f"trailing stop {self.pct:.2%} from best {best:.2f}",
                ts_ns=int(batch.ts_ns[i]),
                price=float(prices[i]),
            )
    running, hit = self._running(position, prices)
    idx = np.flatnonzero(hit)
    if len(idx):
        i = int(idx[0])
        self._best[key] = float(running[i])
        return ExitDecision(
            monitor=self.name,
            reason=f"trailing stop {self.pct:.2%} from best {running[i]:.2f}",
            ts_ns=int(batch.ts_ns[i]),
            price=float(prices[i]),
        )
    self._best[key] = float(running[-1])
    return None


def _old_guard_on_ticks(
    self, position: Position, batch: TickBatch, ctx: RiskContext
) -> ExitDecision | None:
    """The first trade of ``batch`` at which the breaker or a leader dump closes it."""
    if position.is_flat or len(batch) == 0:
        return None
    now = batch.first_ts
    self._observe_leader(ctx, now, batch)
    i, reason = self._breaker_on_ticks(position, batch, ctx)
    if i != 0:
        dump = self._dump_reason(position, now)
        if dump is not None:
            i, reason = 0, dump
    if i is None:
        return None
    return ExitDecision(
        monitor=self.name,
        reason=reason,
        ts_ns=int(batch.ts_ns[i]),
        price=float(batch.price[i]),
    )


def _old_equity(self: Portfolio) -> Decimal:
    """``Portfolio.equity`` as it was before (verbatim, but for its docstring)."""
    accounts = self.accounts
    cash = self.cash
    kept = self._equity_kept
    ctx = getcontext()
    if (
        kept is not None
        and kept[0] is cash
        and kept[1] == self.changes
        and kept[2] is ctx
        and kept[3] == ctx.prec
        and kept[4] == ctx.rounding
        and not accounts.by_venue
    ):
        return kept[5]  # type: ignore[no-any-return]
    eq = cash
    positions = self._positions
    for key in self._open_keys:
        pos = positions[key]
        if pos.is_flat or key not in self._last:
            continue
        inst = self._instruments.get(key)
        if inst is not None and inst.venue in accounts:
            continue  # valued by its account below
        eq += pos.unrealized_pnl(Decimal(repr(self._last[key])))
    if accounts:
        eq += accounts.equity(self.last_price, self._positions.values())
    else:
        self._equity_kept = (cash, self.changes, ctx, ctx.prec, ctx.rounding, eq)
    return eq


#: The old paths, patched in for the "before" run: (owner, name, the code before).
OLD = (
    (Engine, "_on_ticks", _old_on_ticks),
    (Portfolio, "equity", _old_equity),
    (SimulatedVenue, "on_trades", _old_on_trades),
    (MaxHold, "on_ticks", _old_maxhold_on_ticks),
    (AdverseMoves, "on_ticks", _old_adverse_on_ticks),
    (TrailingStop, "on_ticks", _old_trailing_on_ticks),
    (PortfolioGuard, "on_ticks", _old_guard_on_ticks),
)


#: Backtests to compare: (ticks, trades a minute, exits, extra config, holes in the tape);
#: ticks 0 is the shipped sample.
CASES = {
    "sample": (0, 1.0, None, "", []),
    "synthetic-80": (30_000, 1.0, None, "", []),
    "long-holds": (30_000, 1.0, LONG_HOLDS, "", []),
    "data-gaps": (40_000, 1.0, None, "", [(0.2, 0.32), (0.55, 0.65)]),
    # The tight breaker, the adverse exit and a short max hold together, at ~1,600 a minute.
    "busy-guard-adverse": (
        100_000,
        20.0,
        ONE_EXIT["adverse"][0] + ONE_EXIT["guard"][0] + ONE_EXIT["maxhold"][0],
        BUSY_PRIMARY,
        [],
    ),
}


def _data(tmp_path: Path, ticks: int, speedup: float, holes: list) -> Path:
    if not ticks:
        return SAMPLE
    data = _synthetic(tmp_path / f"synth_{ticks}_{speedup:g}x.parquet", ticks, speedup)
    return _with_holes(data, tmp_path / "holes.parquet", holes) if holes else data


@pytest.mark.parametrize("scheduler", [False, True])
@pytest.mark.parametrize("case", list(CASES))
def test_a_backtest_journals_the_same_rows_as_with_the_code_before(tmp_path, case, scheduler):
    """Every journal table row by row, the summary (funnel, decisions, P&L), the equity and
    price curves, charted series, candles, fills and funding of a backtest are the same with
    the stepped closes' paths as with the code before, stepping every close and with the
    event scheduler."""
    ticks, speedup, exits, extra, holes = CASES[case]
    data = _data(tmp_path, ticks, speedup, holes)
    steps = [0]
    real = Engine._on_ticks

    async def counted(self: Engine, st: Any, piece: TickBatch) -> None:
        steps[0] += 1
        await real(self, st, piece)

    runs = {}
    for name in ("after", "before"):
        with pytest.MonkeyPatch.context() as m:
            if name == "before":
                for owner, attr, old in OLD:
                    m.setattr(owner, attr, old)
            else:
                m.setattr(Engine, "_on_ticks", counted)
            runs[name] = _run(
                tmp_path, data, scheduler=scheduler, block=1_000_000, extra=extra, exits=exits
            )
        for leftover in tmp_path.glob("sched_*.duckdb*"):
            leftover.unlink()  # the next run's journal at the same path, afresh
    (rows, result, engine), (base_rows, base, stepped) = runs["after"], runs["before"]
    assert steps[0] > 0 and base_rows["fills"] and base_rows["orders"]
    if holes:
        assert engine.gaps and engine.gaps == stepped.gaps
    for table in rows:
        assert rows[table] == base_rows[table], table
    assert result.summary == base.summary
    assert result.equity_curve == base.equity_curve
    assert result.series == base.series
    assert result.candles == base.candles
    assert result.price_curve == base.price_curve
    assert result.funding == base.funding
    assert [repr(f) for f in result.fills] == [repr(f) for f in base.fills]
    assert (engine.candles, engine.decision_points, engine.ticks) == (
        stepped.candles,
        stepped.decision_points,
        stepped.ticks,
    )


class _OldOnTrades(SimulatedVenue):
    on_trades = _old_on_trades  # type: ignore[assignment]


def test_the_venues_one_order_path_gives_the_code_befores_sessions(monkeypatch):
    """120 random sessions of the simulated venue (every order type and time in force, one
    or two orders sent at a time, resting limits and stops beside market orders, cancels,
    partial fills, NaN prices and sizes, engine steps and whole batches): every report,
    fill, next fill time, cash, position and open order is the code before's; both the
    one-order path and the path of several were taken, with orders finishing and not."""
    seen = {"one": 0, "several": 0, "one-finished": 0}
    real = SimulatedVenue._match

    def counted(self: SimulatedVenue, so: Any, batch: TickBatch) -> None:
        several = len(self._open.get(batch.instrument) or ()) > 1
        real(self, so, batch)
        if several:
            seen["several"] += 1
        else:
            seen["one"] += 1
            seen["one-finished"] += so.status.is_terminal

    for seed in range(120):
        before = _play(_OldOnTrades, seed)
        with pytest.MonkeyPatch.context() as m:
            m.setattr(SimulatedVenue, "_match", counted)
            after = _play(SimulatedVenue, seed)
        assert after == before, seed
    assert seen["one"] > 600 and seen["several"] > 60
    assert 60 < seen["one-finished"] < seen["one"]


def _old_maxhold() -> tuple[MaxHold, Any]:
    mon = MaxHold(MaxHoldConfig(max_hold_minutes=1.0))
    return mon, lambda *a: _old_maxhold_on_ticks(mon, *a)


def test_the_max_holds_last_trade_check_gives_the_searchs_decisions():
    """20,000 random calls (positions of known and unknown open time, long and short, flat;
    batches of 0 to 80 trades with repeated times, ending before, at, one nanosecond either
    side of and after the deadline): every decision and the first-seen times are the code
    before's, and both sides of the check were taken."""
    rnd = random.Random(17)
    limit = NS_PER_MINUTE
    due_in = not_due = 0
    for case in range(200):
        new, _ = _old_maxhold()
        old, old_on_ticks = _old_maxhold()
        opened = rnd.choice((0, 10**18 + rnd.randint(0, 10**12)))
        qty = Decimal(rnd.choice(("0.01", "-0.5", "0", "3")))
        pos = Position(instrument="X", quantity=qty, avg_price=Decimal("100"), opened_ts_ns=opened)
        t = opened or 10**18
        for _ in range(100):
            n = rnd.choice((0, 1, 1, 2, 3, 8, 40, 80))
            start = t + rnd.choice((0, 1, limit // 3, limit - 1, limit, limit + 1, -5, -limit))
            step = rnd.choice((0, 1, 10**6, limit // 7, limit))
            ts = [start + i * rnd.choice((0, step)) for i in range(n)]
            ts.sort()
            prices = [100.0 + rnd.random() for _ in range(n)]
            batch = TickBatch.from_arrays("X", ts, prices, [1.0] * n, [1] * n)
            want = old_on_ticks(pos, batch, None)
            got = new.on_ticks(pos, batch, None)
            assert got == want, (case, ts)
            assert new._first_seen == old._first_seen
            if n and not pos.is_flat:
                due = new.deadline(pos)
                if due is not None and ts[-1] < due:
                    not_due += 1
                else:
                    due_in += 1
    assert due_in > 1000 and not_due > 1000
