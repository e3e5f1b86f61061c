"""What the API's read endpoints answer from: an immutable snapshot of the engine, published
by the engine at the end of a step when something changed.

The engine's thread builds a :class:`Snapshot` (a handful of scalars, the open positions —
frozen values already — the marks of the instruments held, the open orders) and swaps it in
with one reference assignment; the API's thread only ever reads the latest one, so a read
endpoint never waits for the engine's loop and never touches engine state while the engine
changes it. What grows without bound (fills, equity points) is not copied per step: the
:class:`SnapshotSource` keeps its own append-only sequences, extended by what is new since the
last snapshot, and a snapshot holds how many entries of each it covers (a versioned prefix).

A paper or live run (its journal durable, the order manager's history bounded) keeps only the
newest :data:`KEEP_RECENT` to twice as many of them in memory (:class:`~tradewind.api.window.
Window`): older fills and their orders' tags are read back from the run's journal (on a
cursor of the source's own), older equity points from the curve store the engine writes its
curves' older points to. A backtest keeps everything.

Building one costs the open positions and the fills booked since the last one; a step in
which nothing the endpoints show changed publishes nothing.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from tradewind.api.window import SpilledPoints, Window
from tradewind.model import Fill, Instrument, Order, Position, Side
from tradewind.trading.curves import CurveStore

if TYPE_CHECKING:
    from tradewind.trading.engine import Engine

ZERO = Decimal(0)
#: The fills and equity points a paper or live run's API keeps in memory (up to twice as
#: many between two drops); the older are read back from the journal and the curve store.
KEEP_RECENT = 1_000
#: The columns of a journal ``fills`` row :func:`fill_from_row` takes.
FILL_COLUMNS = (
    "client_order_id, trade_id, instrument, side, quantity, price, fee, ts_ns, liquidity, "
    "fee_currency, fee_asset, fee_rate"
)


@attrs.frozen(kw_only=True)
class PortfolioSnapshot:
    """The portfolio as of one snapshot, with the read methods of
    :class:`tradewind.trading.portfolio.Portfolio` the API uses."""

    ts_ns: int
    cash: Decimal
    open_positions: tuple[Position, ...]
    marks: Mapping[str, float]
    orders: tuple[Order, ...]
    start: Decimal
    #: The engine's equity when it values venue accounts (not derivable from the above);
    #: None: cash plus the open positions' unrealised P&L at their marks.
    valued_equity: Decimal | None = None
    #: The price in the reporting currency of each other P&L currency of the instruments
    #: and each fee currency, at the engine's marks, and why a currency has none (no
    #: instrument between the two has traded yet): P&L and fee totals convert with them,
    #: never sum currencies raw.
    rates: Mapping[str, Decimal] = attrs.Factory(dict)
    rate_errors: Mapping[str, str] = attrs.Factory(dict)

    def rate(self, currency: str) -> Decimal:
        """The price of one unit of a P&L currency in the reporting currency (1 for the
        reporting currency itself); :class:`ConversionError` when the engine had none."""
        from tradewind.trading.accounts import ConversionError

        found = self.rates.get(currency)
        if found is not None:
            return found
        raise ConversionError(
            self.rate_errors.get(currency) or f"no price of {currency} in the reporting currency"
        )

    def position(self, instrument: str) -> Position:
        """The open position in ``instrument`` (flat if none)."""
        for p in self.open_positions:
            if p.instrument == instrument:
                return p
        return Position(instrument=instrument)

    def positions(self) -> Sequence[Position]:
        """All non-flat positions."""
        return self.open_positions

    def last_price(self, instrument: str) -> float:
        """The last price of a held instrument (NaN before its first trade)."""
        return self.marks.get(instrument, math.nan)

    def open_orders(self) -> Sequence[Order]:
        """Orders sent and not yet terminal."""
        return self.orders

    def starting_equity(self) -> Decimal:
        """Equity when the run started."""
        return self.start

    def equity(self) -> Decimal:
        """Cash plus the open positions' unrealised P&L at the last prices (as the engine
        counts it)."""
        if self.valued_equity is not None:
            return self.valued_equity
        eq = self.cash
        for p in self.open_positions:
            mark = self.marks.get(p.instrument)
            if mark is not None and not math.isnan(mark):
                eq += p.unrealized_pnl(Decimal(repr(mark)))
        return eq


@attrs.frozen(kw_only=True)
class Snapshot:
    """The engine as the read endpoints see it, after one step."""

    version: int
    #: Engine time when it was taken.
    now_ns: int
    ticks: int
    decisions: int
    state: str
    run_id: str
    portfolio: PortfolioSnapshot
    instruments: Mapping[str, Instrument]
    #: How many of :attr:`SnapshotSource.fills` and :attr:`SnapshotSource.equity` it covers.
    n_fills: int
    n_equity: int
    #: The decision funnel (tradewind.report.metrics.funnel), rebuilt when a count changed.
    funnel: Mapping[str, int] = attrs.Factory(dict)


class SnapshotSource:
    """Publishes :class:`Snapshot` s of one engine (call :meth:`publish` on the engine's
    thread, at the end of a step) and keeps the append-only fills and equity points they
    index. :attr:`latest` is safe to read from any thread."""

    def __init__(self, engine: Engine, *, seed: Any = None) -> None:
        self._engine = engine
        #: The fills and equity points kept in memory in a paper or live run (None: all).
        self.keep_recent: int | None = KEEP_RECENT
        #: Reads the session's journaled fills and their orders' tags before the first
        #: snapshot (a resumed session's trades): ``seed() -> (fills, {client id: tag})``.
        self._seed = seed
        #: Every fill of the session in booking order (append-only; the newest in memory
        #: in a paper or live run, the older read back from the journal).
        self.fills: Window[Fill] = Window(None, self._journal_fills, self._drop_tags)
        #: The tag of each kept fill's order (the exit reason of the trade it closes); see
        #: :meth:`fills_and_tags` for any fill's.
        self.tags: dict[str, str] = {}
        #: The equity curve (append-only; the older points in the engine's curve store, or
        #: one of the source's own when the engine keeps its curves in memory).
        self._spilled = SpilledPoints(lambda: engine.curve_store or CurveStore())
        self.equity: Window[tuple[int, float]] = Window(
            None, self._spilled.read, self._spilled.spill
        )
        #: Held while the fills and their tags change together, and to read them together.
        self._lock = threading.Lock()
        #: The source's own cursor on the journal (reads older fills from any thread).
        self._cursor: Any = None
        self._cursor_lock = threading.Lock()
        self._journal_failed = False
        #: The engine thread's cursor: how many of the session's fills the database holds.
        self._count_cursor: Any = None
        self._fills_seen = 0
        self._equity_seen = 0
        self._key: tuple[Any, ...] | None = None
        self._instruments: Mapping[str, Instrument] = {}
        self._funnel_key: tuple[int, ...] | None = None
        self._funnel: Mapping[str, int] = {}
        self._operator: Any = None
        #: The engine's P&L currencies other than the reporting one (valued per snapshot),
        #: recomputed when the engine's mapping is replaced.
        self._pnl_of: Mapping[str, str] | None = None
        self._other_currencies: tuple[str, ...] = ()
        self.latest: Snapshot | None = None
        #: Snapshots built (for tests and the benchmark).
        self.published = 0

    def publish(self) -> Snapshot | None:
        """Take a new snapshot if what the endpoints show changed since the last; returns it
        (None when nothing changed). Runs on the engine's thread."""
        e = self._engine
        pf = e.portfolio
        orders = e.orders
        history = orders.history
        n_fills = history.n_fills
        curve = e.equity_curve
        operator = self._operator
        if operator is None:
            from tradewind.trading.operator import Operator

            operator = self._operator = Operator.of(e)
        state = operator.state
        key = (
            pf.ts_ns,
            n_fills,
            pf.cash,
            e.ticks,
            e.decision_points,
            len(curve),
            len(pf._orders),
            len(pf._positions),
            len(e.instruments),
            state,
            e.run_id,
        )
        if key == self._key and self.latest is not None:
            return None
        # A durable journal (paper, live): the older fills and equity points are read back;
        # otherwise (a backtest) all kept, and from the journal's first failure on (what it
        # did not take stays in memory, as the order manager's history keeps it).
        j = e.journal
        if j is not None and j.error is not None:
            self._journal_failed = True
        bounded = j is not None and j.durable and not self._journal_failed
        keep = self.keep_recent if bounded else None
        if keep != self.fills.keep:
            if keep is not None and self._cursor is None:
                self._cursor = e.journal.cursor()  # type: ignore[union-attr]
            self.fills.keep = self.equity.keep = keep
        if self.latest is None and self._seed is not None:
            seeded, tags = self._seed()
            with self._lock:
                self.tags.update(tags)
                self.fills.extend(seeded)
            self._fills_seen = n_fills  # booked before this point: journaled, seeded
        if n_fills > self._fills_seen:
            new = history.fills_since(self._fills_seen)
            known = orders.order_tags
            with self._lock:
                for f in new:  # (the tags first: a kept fill's tag is there to read)
                    tag = known.get(f.client_order_id)
                    if tag is not None:
                        self.tags[f.client_order_id] = tag
                self.fills.extend(new)
            self._fills_seen = n_fills
        if len(curve) > self._equity_seen:
            self.equity.extend(curve[self._equity_seen :])
            self._equity_seen = len(curve)
        if len(self._instruments) != len(e.instruments):
            self._instruments = dict(e.instruments)
        strategy = e.strategy
        funnel_key = (
            e.decision_points,
            e.signals,
            e.entries_sent,
            strategy.evaluated,
            sum(e.vetoes.values()),
            sum(strategy.rejected.values()),
        )
        if funnel_key != self._funnel_key:  # the counts move at decisions only
            out = {"candidates": strategy.evaluated}
            out.update({f"rejected:{k}": v for k, v in strategy.rejected.items()})
            out["signals"] = e.signals
            out.update({f"vetoed:{k}": v for k, v in e.vetoes.items()})
            out["orders"] = e.entries_sent
            self._funnel, self._funnel_key = out, funnel_key
        positions = tuple(pf.positions())
        rep = pf.accounts.reporting_currency
        if e.pnl_currencies is not self._pnl_of:
            self._pnl_of = e.pnl_currencies
            self._other_currencies = tuple(sorted(set(e.pnl_currencies.values()) - {rep}))
        # The P&L currencies' rates. A fee paid in a third currency (BNB, gas) needs none: it
        # is valued at its currency's price when its fill was booked (the fill's fee_rate).
        others = self._other_currencies
        rates, rate_errors = _rates(e, others)
        self.published += 1
        snap = Snapshot(
            version=self.published,
            now_ns=e.clock.now_ns(),
            ticks=e.ticks,
            decisions=e.decision_points,
            state=state,
            run_id=e.run_id,
            portfolio=PortfolioSnapshot(
                ts_ns=pf.ts_ns,
                cash=pf.cash,
                open_positions=positions,
                marks={p.instrument: pf.last_price(p.instrument) for p in positions},
                orders=tuple(pf.open_orders()),
                start=pf.starting_equity(),
                valued_equity=pf.equity() if pf.accounts else None,
                rates=rates,
                rate_errors=rate_errors,
            ),
            instruments=self._instruments,
            n_fills=len(self.fills),
            n_equity=len(self.equity),
            funnel=self._funnel,
        )
        self._key = key
        self.latest = snap  # the publication: one reference swap
        return snap

    @property
    def keep(self) -> int | None:
        """The fills and equity points kept in memory (None: every one)."""
        return self.fills.keep

    def fills_and_tags(self, start: int, stop: int) -> tuple[list[Fill], Mapping[str, str]]:
        """Fills ``start:stop`` and the tags of their orders (read back from the journal for
        those no longer kept); safe from any thread."""
        with self._lock:  # (the journal is read after: the engine never waits for it)
            tags = self.tags
            state = self.fills.state
        fills = self.fills.sample(stop, 1, start, state)
        dropped = state[0]
        if start >= dropped:
            return fills, tags
        old = self._journal_tags(start, min(stop, dropped))
        old.update(tags)
        return fills, old

    def _drop_tags(self, first: int, fills: list[Fill]) -> int:
        """Before :attr:`fills` lets go of ``fills`` (the session's ``first`` on): how many
        of them the journal's database holds already (a paper or live journal loads its
        step log's rows in batches: a fill not loaded yet stays until it is); only the kept
        fills' tags stay (a new dict: a reader holding the old one finds its fills' tags)."""
        if self._count_cursor is None:
            self._count_cursor = self._engine.journal.cursor()  # type: ignore[union-attr]
        loaded = self._count_cursor.execute(
            "SELECT count(*) FROM fills WHERE session_id = ?",
            [self._engine.journal.session_id],  # type: ignore[union-attr]
        ).fetchone()[0]
        cut = max(0, min(len(fills), int(loaded) - first))
        if cut:
            kept = self.fills.kept[cut:]
            tags = self.tags
            self.tags = {
                f.client_order_id: tags[f.client_order_id]
                for f in kept
                if f.client_order_id in tags
            }
        return cut

    def _read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._cursor_lock:
            cursor = self._cursor
            if cursor is None:
                raise LookupError("the journal the older fills are in is closed")
            return cursor.execute(sql, list(params)).fetchall()  # type: ignore[no-any-return]

    def _journal_fills(self, start: int, stop: int, step: int = 1) -> list[Fill]:
        """The session's fills ``start:stop`` (in booking order: the journal's), read back."""
        session = self._engine.journal.session_id  # type: ignore[union-attr]
        rows = self._read(
            f"SELECT {FILL_COLUMNS} FROM fills WHERE session_id = ? ORDER BY seq LIMIT ? OFFSET ?",
            [session, stop - start, start],
        )
        return [fill_from_row(r) for r in rows][::step]

    def _journal_tags(self, start: int, stop: int) -> dict[str, str]:
        """The tags of the orders of the session's fills ``start:stop``, from the journal."""
        session = self._engine.journal.session_id  # type: ignore[union-attr]
        rows = self._read(
            "SELECT DISTINCT client_order_id, tag FROM orders WHERE session_id = ? AND "
            "tag IS NOT NULL AND client_order_id IN (SELECT client_order_id FROM fills "
            "WHERE session_id = ? ORDER BY seq LIMIT ? OFFSET ?)",
            [session, session, stop - start, start],
        )
        return dict(rows)

    def close(self) -> None:
        """Release the source's journal cursor (before the journal closes)."""
        with self._cursor_lock:
            for cursor in (self._cursor, self._count_cursor):
                if cursor is not None:
                    cursor.close()
            self._cursor = self._count_cursor = None


#: No rate to value (every instrument's P&L is in the reporting currency): shared, read-only.
_NO_ERRORS: Mapping[str, str] = {}


def _rates(
    engine: Engine, others: Sequence[str]
) -> tuple[Mapping[str, Decimal], Mapping[str, str]]:
    """:attr:`PortfolioSnapshot.rates` and ``rate_errors`` of the P&L currencies ``others``
    (the engine's other than the reporting one)."""
    from tradewind.trading.accounts import ConversionError

    pf = engine.portfolio
    rep = pf.accounts.reporting_currency
    rates = {rep: Decimal(1)}
    if not others:
        return rates, _NO_ERRORS
    errors: dict[str, str] = {}
    for cur in others:
        try:
            rates[cur] = pf.accounts.rate(cur, pf.last_price)
        except ConversionError as exc:
            errors[cur] = str(exc)
    return rates, errors


def fill_from_row(row: Sequence[Any]) -> Fill:
    """A journal ``fills`` row (client_order_id, trade_id, instrument, side, quantity,
    price, fee, ts_ns, liquidity[, fee_currency, fee_asset[, fee_rate]]) as a :class:`Fill`;
    without the currency and asset the fee is in the quote currency."""
    cid, tid, inst, side, qty, price, fee, ts, liq, *currency = row
    fee_currency, fee_asset, fee_rate = (*currency, None, None, None)[:3]
    if not currency:
        fee_currency, fee_asset = "", "quote"
    return Fill(
        client_order_id=cid,
        instrument=inst,
        side=Side(side),
        quantity=Decimal(qty),
        price=Decimal(price),
        fee=Decimal(fee),
        ts_ns=int(ts),
        liquidity=liq,
        trade_id=tid,
        fee_currency=fee_currency or "",
        fee_asset=fee_asset or "quote",
        fee_rate=None if fee_rate is None else Decimal(fee_rate),
    )
