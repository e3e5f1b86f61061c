"""What the API reads: the running engine's portfolio and counters, and its journal.

A narrow read interface, :class:`HostView`, turns them into plain JSON-able dicts with
Freqtrade's field names where the meaning is the same (so Freqtrade's client and habits work)
and tradewind's own where it has more to say (signals, vetoes, the funnel, the watchlist).

Trades are round trips rebuilt from the journal's fills: a trade opens when an instrument's
position leaves flat and closes when it returns to flat (a fill that flips the position closes
one trade and opens the next). Trade ids count trades in order of opening within the session.
Money is exact in the journal; JSON carries floats as Freqtrade's clients expect, and the
exact amounts as strings where tradewind adds a field (``*_exact``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from tradewind import __version__
from tradewind.api.snapshot import FILL_COLUMNS, Snapshot, SnapshotSource, fill_from_row
from tradewind.api.totals import (
    Totals,
    add_performance,
    add_stats,
    close_day,
    closed_profit,
    period_start,
)
from tradewind.model import Candle, Fill, Position, Side
from tradewind.secrets import Secret
from tradewind.trading.accounts import ConversionError
from tradewind.trading.pnl import pnl_currency, priced_total, unpriced_fee

if TYPE_CHECKING:
    from tradewind.trading.engine import Engine

ZERO = Decimal(0)
#: The most fills read back from the journal at a time to rebuild trades a view no longer
#: keeps.
READ_BACK_FILLS = 4_096
#: Trades between two of a view's marks of where its trade book stood (a rebuild of trades
#: it let go of starts at the last mark before them, not at the session's first fill).
MARK_EVERY = 256
#: The most bytes of ``trades`` pages kept ready to send (the pages asked for last).
PAGE_CACHE_BYTES = 32 * 1024 * 1024
_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "USD", "EUR", "BTC", "ETH")


def _date(ts_ns: int | None) -> str | None:
    if not ts_ns:
        return None
    return dt.datetime.fromtimestamp(ts_ns / 1e9, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _ms(ts_ns: int | None) -> int | None:
    return None if not ts_ns else ts_ns // 1_000_000


def split_symbol(symbol: str) -> tuple[str, str]:
    """``BTCUSDT`` → ``("BTC", "USDT")``; ``ETH/USD`` → ``("ETH", "USD")``."""
    for sep in ("/", "-", "_"):
        if sep in symbol:
            base, _, quote = symbol.partition(sep)
            return base, quote.split(":")[0]
    for quote in _QUOTES:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)], quote
    return symbol, ""


@attrs.define
class Trade:
    """A round trip in one instrument, rebuilt from fills."""

    trade_id: int
    instrument: str
    is_short: bool
    open_ts_ns: int
    amount: Decimal = ZERO
    entry_qty: Decimal = ZERO
    entry_cost: Decimal = ZERO
    exit_qty: Decimal = ZERO
    exit_cost: Decimal = ZERO
    #: Fees of the entry and exit fills in the trade's P&L currency (the quote's, the
    #: bought asset's valued at the fill price, a third currency's at its price at the fill).
    fee_open: Decimal = ZERO
    fee_close: Decimal = ZERO
    #: Fees paid in a third currency (BNB, gas), per currency as charged (those with a
    #: price at their fill are in ``fee_open``/``fee_close`` at it).
    other_fees: dict[str, Decimal] = attrs.Factory(dict)
    #: The fees charged in the P&L currency itself (the quote's and the bought asset's).
    own_fees: Decimal = ZERO
    #: Third-currency fees that had no price at their fill: the trade has no profit then.
    fees_not_converted: list[str] = attrs.Factory(list)
    realized: Decimal = ZERO
    close_ts_ns: int | None = None
    orders: list[Fill] = attrs.Factory(list)
    exit_reason: str = ""
    open_position: Position | None = None

    @property
    def is_open(self) -> bool:
        """True until the position is flat again."""
        return self.close_ts_ns is None

    @property
    def open_rate(self) -> Decimal:
        """Average entry price."""
        return self.entry_cost / self.entry_qty if self.entry_qty else ZERO

    @property
    def close_rate(self) -> Decimal | None:
        """Average exit price, once anything was exited."""
        return self.exit_cost / self.exit_qty if self.exit_qty else None

    @property
    def stake(self) -> Decimal:
        """Entry notional."""
        return self.entry_cost

    @property
    def profit(self) -> Decimal | None:
        """Realised profit net of fees, in the P&L currency; None when a third-currency fee
        had no price at its fill."""
        if self.fees_not_converted:
            return None
        return self.realized - self.fee_open - self.fee_close


@attrs.frozen
class BookMark:
    """Where a :class:`TradeBook` stood after the fill ``seq``: its trades opened, its
    positions, its open trades (copies)."""

    seq: int
    n: int
    positions: dict[str, Position]
    current: dict[str, Trade]


class TradeBook:
    """Round trips folded from fills in booking order (see the module's docstring); fed
    incrementally, so a request costs the fills booked since the last one.

    :attr:`trades` holds the trades from id ``dropped + 1`` on: a view lets go of the older
    ones (:meth:`drop`) once its running totals took them in."""

    def __init__(self) -> None:
        #: The trades in memory, by id from ``dropped + 1`` (every trade unless dropped).
        self.trades: list[Trade] = []
        #: Trades let go of (the oldest; read back from the journal when asked for).
        self.dropped = 0
        #: Trades opened so far (the last trade's id).
        self.n = 0
        self.current: dict[str, Trade] = {}
        self.positions: dict[str, Position] = {}
        #: The journal sequence number of the last fill folded in.
        self.last_seq = 0

    def mark(self) -> BookMark:
        """Where the book stands: enough to fold the fills after ``last_seq`` on from here
        into the same trades (the open ones copied: folding goes on changing them)."""
        current = {k: _open_copy(t) for k, t in self.current.items()}
        return BookMark(self.last_seq, self.n, dict(self.positions), current)

    @classmethod
    def resume(cls, mark: BookMark) -> TradeBook:
        """A book that folds the fills after ``mark``'s on: its trades are those opened after
        the mark (the mark's open ones go on in :attr:`current` only)."""
        book = cls()
        book.last_seq, book.n, book.positions = mark.seq, mark.n, dict(mark.positions)
        book.current = {k: _open_copy(t) for k, t in mark.current.items()}
        book.dropped = mark.n
        return book

    def drop(self, upto: int) -> None:
        """Let go of the trades with ids up to ``upto`` (closed ones)."""
        if upto > self.dropped:
            self.trades = self.trades[upto - self.dropped :]
            self.dropped = upto

    def add(self, f: Fill) -> Trade | None:
        """Fold one fill in; returns the trade it closed, if any."""
        trades, current = self.trades, self.current
        before = self.positions.get(f.instrument) or Position(instrument=f.instrument)
        after = before.apply(f)
        self.positions[f.instrument] = after
        realized = after.realized_pnl - before.realized_pnl
        t = current.get(f.instrument)
        qty = f.quantity
        if t is None:  # flat before: this fill opens a trade
            self.n += 1
            t = Trade(
                trade_id=self.n,
                instrument=f.instrument,
                is_short=f.side is Side.SELL,
                open_ts_ns=f.ts_ns,
            )
            trades.append(t)
            current[f.instrument] = t
        opening = (f.side is Side.SELL) == t.is_short
        t.orders.append(f)
        fee = f.fee_in_pnl
        if f.fee_asset == "other":
            t.other_fees[f.fee_currency] = t.other_fees.get(f.fee_currency, ZERO) + f.fee
        else:
            t.own_fees += f.fee_in_quote
        if fee is None:
            t.fees_not_converted.append(unpriced_fee(f, "the P&L currency"))
            fee = ZERO
        if opening:
            t.entry_qty += qty
            t.entry_cost += qty * f.price
            t.fee_open += fee
        else:
            closing_qty = min(qty, abs(before.quantity))
            t.exit_qty += closing_qty
            t.exit_cost += closing_qty * f.price
            t.fee_close += fee
            t.realized += realized
        t.amount = max(t.amount, abs(after.quantity))
        if not (after.is_flat or (not opening and (after.quantity > 0) == t.is_short)):
            t.open_position = after
            return None
        t.close_ts_ns = f.ts_ns
        t.open_position = None
        del current[f.instrument]
        if not after.is_flat:  # flipped: the remainder opens the next trade
            rest = abs(after.quantity)
            self.n += 1
            nxt = Trade(
                trade_id=self.n,
                instrument=f.instrument,
                is_short=after.quantity < 0,
                open_ts_ns=f.ts_ns,
                amount=rest,
                entry_qty=rest,
                entry_cost=rest * f.price,
            )
            nxt.orders.append(f)
            nxt.open_position = after
            trades.append(nxt)
            current[f.instrument] = nxt
        return t


def _open_copy(t: Trade) -> Trade:
    """A copy of an open trade that folding more fills into the original leaves as it is."""
    return attrs.evolve(
        t,
        orders=list(t.orders),
        other_fees=dict(t.other_fees),
        fees_not_converted=list(t.fees_not_converted),
    )


class NotKept(LookupError):
    """Trades older than a view keeps, which it cannot read back itself (an API process's
    mirror: its host reads them from the journal)."""


def rebuild_trades(fills: Iterable[Fill]) -> list[Trade]:
    """Round trips from fills in booking order."""
    book = TradeBook()
    for f in fills:
        book.add(f)
    return book.trades


class LogBuffer(logging.Handler):
    """The last ``capacity`` log records of the ``tradewind`` loggers, for ``/logs``."""

    def __init__(self, capacity: int = 1000) -> None:
        super().__init__(level=logging.INFO)
        self.records: deque[list[Any]] = deque(maxlen=capacity)
        #: Records kept since the start (the API process's mirror copies what is new).
        self.count = 0
        #: Called after each record is kept, on the thread that logged it.
        self.on_record: Callable[[], None] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record as Freqtrade's log row: date, ms timestamp, logger, level, message."""
        try:
            msg = record.getMessage()
        except Exception:  # a bad format string must not break logging
            msg = str(record.msg)
        self.records.append(
            [
                dt.datetime.fromtimestamp(record.created, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
                int(record.created * 1000),
                record.name,
                record.levelname,
                msg,
            ]
        )
        self.count += 1
        if self.on_record is not None:
            self.on_record()

    def since(self, count: int) -> tuple[list[list[Any]], int]:
        """The records kept after the first ``count`` (at most the capacity), and the count
        now; safe from any thread (under the handler's lock, as :meth:`emit` runs)."""
        with self.lock:  # type: ignore[union-attr]  # createLock() ran in __init__
            new = min(self.count - count, len(self.records))
            return ([list(r) for r in list(self.records)[-new:]] if new > 0 else []), self.count

    def page(self, limit: int | None) -> dict[str, Any]:
        """Freqtrade's ``Logs``: the last ``limit`` records (all kept: None)."""
        with self.lock:  # type: ignore[union-attr]
            rows = list(self.records)
        if limit:
            rows = rows[-limit:]
        return {"log_count": len(rows), "logs": rows}


#: The journal tables the API pages through (``/signals``, ``/vetoes``, ``/fills``) and the
#: columns each answers, newest first by the journal's sequence number.
JOURNAL_PAGES: dict[str, tuple[str, ...]] = {
    "signals": (
        "seq",
        "ts_ns",
        "instrument",
        "side",
        "intent",
        "entry",
        "stop",
        "quantity",
        "score",
        "reasons",
    ),
    "vetoes": (
        "seq",
        "ts_ns",
        "filter",
        "reason",
        "action",
        "instrument",
        "side",
        "quantity",
        "signal_ts_ns",
    ),
    "fills": (
        "seq",
        "ts_ns",
        "client_order_id",
        "instrument",
        "side",
        "quantity",
        "price",
        "fee",
        "liquidity",
        "fee_currency",
        "fee_asset",
        "fee_rate",
    ),
}


def journal_item(table: str, row: Sequence[Any]) -> dict[str, Any]:
    """One row of :data:`JOURNAL_PAGES` ``[table]``'s columns as the API answers it: the
    columns by name, its date, a signal's reasons parsed."""
    item = dict(zip(JOURNAL_PAGES[table], row, strict=True))
    item["date"] = _date(item["ts_ns"])
    if table == "signals":
        item["reasons"] = json.loads(item["reasons"]) if item["reasons"] else {}
    return item


def journal_page(
    table: str, rows: Iterable[Sequence[Any]], total: int, limit: int, offset: int
) -> dict[str, Any]:
    """``/signals`` or ``/vetoes``: rows newest first, the session's total, the paging."""
    items = [journal_item(table, r) for r in rows]
    return {table: items, "total": total, "offset": offset, "limit": limit}


def watchlist_entry_json(e: Any, now_ns: int) -> dict[str, Any]:
    """One watchlist entry as the API answers it, its remaining time counted from ``now_ns``."""
    return {
        "instrument": e.instrument,
        "exchange": e.exchange,
        "market_type": e.market_type,
        "symbol": e.symbol,
        "priority": e.priority,
        "status": e.status,
        "added_ts_ns": e.added_ts_ns,
        "expires_ts_ns": e.expires_ts_ns,
        "expires": _date(e.expires_ts_ns),
        "expires_in_s": max(0, (e.expires_ts_ns - now_ns) // 1_000_000_000),
        "warned": e.warned,
        "caller": e.caller,
    }


def watchlist_listing(
    entries: Iterable[Any], include_inactive: bool, now_ns: int, drives: bool
) -> dict[str, Any]:
    """``GET /watchlist``: active entries by priority (highest first; every entry with
    ``include_inactive``), as the host's :class:`~tradewind.trading.watchlist.Watchlist`
    orders them."""
    chosen = [e for e in entries if include_inactive or e.status == "active"]
    chosen.sort(key=lambda e: (-e.priority, e.instrument))
    rows = [watchlist_entry_json(e, now_ns) for e in chosen]
    return {"watchlist": rows, "length": len(rows), "drives_instruments": drives}


def event_item(event: Any) -> dict[str, Any]:
    """A bus event as the websocket sends it: ``{"type", "ts_ns", "severity", "data"}``."""
    from tradewind.journal.store import _payload

    return {
        "type": type(event).__name__,
        "ts_ns": event.ts_ns,
        "severity": int(event.severity),
        "data": json.loads(_payload(event)),
    }


def redact(value: Any) -> Any:
    """A config value with every secret replaced by its ``env:NAME`` reference."""
    from tradewind._serde import unstructure

    if isinstance(value, Secret):
        return f"env:{value.env_name}"
    if attrs.has(type(value)):
        return {f.name: redact(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, Mapping):
        return {str(k): redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    out = unstructure(value)
    return out if isinstance(out, str | int | float | bool | type(None)) else str(out)


@attrs.frozen(kw_only=True)
class ViewSettings:
    """What the snapshot views read of the run's config (plain values: an API process gets
    them over its socket instead of the config)."""

    currency: str
    mode: str
    preset: str
    max_open: int
    drives_instruments: bool
    top_n: int
    strategy_tf: int

    @classmethod
    def of(cls, engine: Engine) -> ViewSettings:
        """The settings of ``engine``'s run."""
        cfg = engine.config
        max_open = -1
        for inst in cfg.instances("filters").values():
            n = getattr(inst.config, "max_open_positions", None)
            if isinstance(n, int):
                max_open = n
                break
        return cls(
            currency=str(cfg.run.reporting_currency),
            mode=cfg.mode.value,
            preset=cfg.strategy.preset or "tradewind",
            max_open=max_open,
            drives_instruments=cfg.watchlist.drives_instruments,
            top_n=cfg.watchlist.top_n,
            strategy_tf=engine.strategy_tf,
        )


class HostView:
    """Read-only views of a running engine and its journal, as JSON-able dicts.

    The trade, money and health views (``status``, ``balance``, ``count``, ``trades``,
    ``profit``, ``performance``, ``periodic``, ``stats``, ``equity``, ``health``) read only
    the engine's latest :class:`~tradewind.api.snapshot.Snapshot` and the config, never the
    engine: they may run on the API's thread while the engine steps. The others (journal
    pages, candles, the funnel, the plugins) read the engine and run on its loop."""

    #: ``/logs`` and ``/watchlist`` answer where the request is handled (an API process's
    #: mirror); otherwise they run on the engine's loop, beside what changes them.
    answers_from_mirror = False
    #: Mark where the trade book stands every :data:`MARK_EVERY` trades, to rebuild trades
    #: let go of from there (an API process's mirror asks its host for them instead).
    marks_trades = True

    def __init__(self, engine: Engine, *, candle_capacity: int = 500) -> None:
        self.engine = engine
        #: The run's config (immutable), read by the snapshot views instead of the engine.
        self.config = engine.config
        #: What the snapshot views read of the config.
        self.settings = ViewSettings.of(engine)
        self.strategy_tf = engine.strategy_tf
        self.logs = LogBuffer()
        self.candles: dict[tuple[str, int], deque[Candle]] = {}
        self._capacity = candle_capacity
        self._book = TradeBook()
        #: The statistics' running totals over the oldest closed trades (see :meth:`fold`).
        self._totals = Totals()
        #: Where the trade book stood every :data:`MARK_EVERY` trades (a window's only).
        self._marks: list[BookMark] = []
        self._cursor: Any = None
        #: The JSON of closed trades (they no longer change), by trade id.
        self._closed_json: dict[int, dict[str, Any]] = {}
        #: The same, encoded (a page of closed trades is joined, not encoded again).
        self._closed_text: dict[int, bytes] = {}
        self._pages: dict[tuple[int, int], _Page] = {}
        self._etag_base = os.urandom(6).hex()
        self.started_ts_ns = engine.clock.now_ns()
        #: The websocket clients' queues; a client too slow to keep up is disconnected.
        self.listeners: list[Any] = []
        engine.candle_sinks.append(self._on_candles)
        #: The engine's snapshots, published at the end of each step that changed them. The
        #: first is taken here, on the engine's thread (the view is built there), so a
        #: request that comes before the engine's first step has one to read.
        self.source = SnapshotSource(engine, seed=self._seed)
        self.source.publish()
        engine.step_sinks.append(self.source.publish)

    @property
    def snap(self) -> Snapshot:
        """The engine's latest snapshot."""
        snap = self.source.latest
        assert snap is not None  # taken in __init__
        return snap

    def _seed(self) -> tuple[list[Fill], dict[str, str]]:
        """The session's fills journaled before the first snapshot (a resumed session's, and
        those this run booked before the view was built), with their orders' tags; read on
        the engine's thread through the journal's own reads, which load what its step log
        holds and its database does not yet (a paper or live journal loads in batches)."""
        j = self.engine.journal
        if j is None:
            return [], {}
        rows = j.query(
            f"SELECT {FILL_COLUMNS} FROM fills WHERE session_id = ? ORDER BY seq",
            [j.session_id],
        )
        tags = (
            dict(
                j.query(
                    "SELECT DISTINCT client_order_id, tag FROM orders WHERE session_id = ? AND "
                    "tag IS NOT NULL",
                    [j.session_id],
                )
            )
            if rows
            else {}
        )
        return [fill_from_row(r) for r in rows], tags

    def on_event(self, event: Any) -> None:
        """The bus subscriber: every event to every websocket client, as JSON."""
        if not self.listeners:
            return
        self.fan_out(event_item(event))

    def fan_out(self, item: dict[str, Any]) -> None:
        """One event's JSON to every websocket client."""
        for send in list(self.listeners):
            try:
                send.send_nowait(item)
            except anyio.WouldBlock:
                # Never a silent gap: a client that cannot keep up loses its connection.
                self.listeners.remove(send)
                send.close()
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                self.listeners.remove(send)

    def top_liquid(self, n: int) -> list[dict[str, Any]]:
        """The host's instruments by quote volume over the last 24 h of market time, from the
        candles the engine closed (the finest timeframe it keeps)."""
        tf = min(self.engine.timeframes)
        now = self.engine.portfolio.ts_ns
        lo = now - 24 * 3_600 * 1_000_000_000
        rows: list[dict[str, Any]] = []
        for key, inst in self.engine.instruments.items():
            buf = self.candles.get((key, tf)) or ()
            vol = sum(c.volume * c.close for c in buf if c.open_ts_ns >= lo)
            rows.append(
                {
                    "instrument": key,
                    "exchange": inst.venue,
                    "market_type": inst.kind.value,
                    "symbol": inst.symbol,
                    "quote_volume_24h": vol,
                }
            )
        rows.sort(key=lambda r: -r["quote_volume_24h"])
        return rows[:n]

    def _on_candles(self, closed: Sequence[Candle]) -> None:
        for c in closed:
            key = (c.instrument, c.timeframe_ns)
            buf = self.candles.get(key)
            if buf is None:
                buf = self.candles[key] = deque(maxlen=self._capacity)
            buf.append(c)

    def _q(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A read on the API's own connection to the journal: it sees what the journal has
        committed (paper and live commit every engine step) and never makes the journal
        write its buffer early, so requests do not add journal writes to the engine's path."""
        if self._cursor is None:
            self._cursor = self.journal.cursor()
        return self._cursor.execute(sql, list(params)).fetchall()  # type: ignore[no-any-return]

    def close(self) -> None:
        """Release the API's journal connection (before the journal closes)."""
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None
        self.source.close()

    @property
    def journal(self) -> Any:
        """The run's journal (open while the host runs)."""
        j = self.engine.journal
        if j is None:
            raise RuntimeError("the host's journal is not open yet")
        return j

    @property
    def currency(self) -> str:
        """The currency money is reported in: the run's ``reporting_currency`` (equity and
        P&L are counted in it, as in the report)."""
        return self.settings.currency

    def pnl_currency_of(self, instrument: str, snap: Snapshot | None = None) -> str:
        """The currency ``instrument``'s P&L (and so its trades' profit) is in: its
        settlement currency (:mod:`tradewind.trading.pnl`)."""
        inst = (snap or self.snap).instruments.get(instrument)
        if inst is not None:
            return pnl_currency(inst, self.currency)
        return split_symbol(instrument.partition(":")[2])[1] or self.currency

    # -- trades ---------------------------------------------------------------------------
    def trades(self, snap: Snapshot | None = None) -> list[Trade]:
        """Every trade of the session up to the snapshot, by id: the fills it covers that
        were not folded in yet are (closed trades get their exit reason from their last
        order's tag), and the trades no longer kept are read back (:meth:`trades_range`).
        Reads the snapshot's source, never the engine."""
        snap = snap or self.snap
        self.fold(snap.n_fills)
        return self.trades_range(0, self._book.n)

    def open_trades(self, snap: Snapshot | None = None) -> list[Trade]:
        """The open trades up to the snapshot, by id."""
        snap = snap or self.snap
        self.fold(snap.n_fills)
        return list(self._book.current.values())  # (opened in id order)

    def trade_by_id(self, trade_id: int, snap: Snapshot | None = None) -> Trade | None:
        """The trade ``trade_id`` (None: no such trade up to the snapshot)."""
        snap = snap or self.snap
        self.fold(snap.n_fills)
        if not 1 <= trade_id <= self._book.n:
            return None
        return self.trades_range(trade_id - 1, trade_id)[0]

    def trades_range(self, lo: int, hi: int) -> list[Trade]:
        """Trades ``lo + 1`` to ``hi`` by id (as ``trades()[lo:hi]``) of those folded in:
        the kept from memory, the older rebuilt from the session's fills
        (:meth:`_old_trades`)."""
        book = self._book
        hi = min(hi, book.n)
        out: list[Trade] = []
        if lo >= hi:
            return out
        if lo < book.dropped:
            out = self._old_trades(lo, min(hi, book.dropped))
        if hi > book.dropped:
            out.extend(book.trades[max(lo, book.dropped) - book.dropped : hi - book.dropped])
        return out

    def _old_trades(self, lo: int, hi: int) -> list[Trade]:
        """Trades ``lo + 1`` to ``hi`` (all closed, no longer kept), rebuilt from the session's
        fills from the last mark before them on (:data:`MARK_EVERY`), read back from the
        journal with their orders' tags, as :meth:`fold` built them: the same values."""
        marks = [m for m in self._marks if m.n <= lo]
        book = TradeBook.resume(marks[-1]) if marks else TradeBook()
        start, n = book.last_seq, self._book.last_seq
        chunk = 0
        while book.n < hi or book.trades[hi - 1 - book.dropped].is_open:
            if start >= n:
                raise NotKept(f"trades {lo + 1} to {hi} are not in the session's fills")
            # A read of twice the fills the trades still to close need at least (two per
            # trade), doubling each time they do not close there.
            chunk = min(READ_BACK_FILLS, max(16, 2 * (hi - book.n), 2 * chunk))
            stop = min(n, start + chunk)
            fills, tags = self.source.fills_and_tags(start, stop)
            for f in fills:
                done = book.add(f)
                if done is not None:
                    done.exit_reason = tags.get(done.orders[-1].client_order_id) or ""
            start = stop
        return book.trades[lo - book.dropped : hi - book.dropped]

    def fold(self, n: int) -> None:
        """Fold the source's fills up to the ``n``-th into the trades (those the source no
        longer keeps read back from the journal, with their orders' tags). When the source
        keeps a window (paper, live), the closed trades are then folded, oldest first, into
        the statistics' running totals, and the trades older than the newest ``keep``
        folded ones are let go of (:meth:`_fold_totals`)."""
        book = self._book
        if book.last_seq < n:
            fills, tags = self.source.fills_and_tags(book.last_seq, n)
            marking = self.marks_trades and self.source.keep is not None
            for f in fills:
                done = book.add(f)
                book.last_seq += 1
                if done is not None:
                    done.exit_reason = tags.get(done.orders[-1].client_order_id) or ""
                if marking and book.n >= (len(self._marks) + 1) * MARK_EVERY:
                    self._marks.append(book.mark())
            book.last_seq = n
            self._fold_totals()

    def _fold_totals(self) -> None:
        """Fold closed trades into :attr:`_totals` in id order, up to the first open one (the
        statistics walk the trades by id) or the first whose P&L currency is not the
        reporting one (its conversion depends on the rate of the moment: it and the trades
        after it stay in memory); keep the newest ``keep`` to ``2 * keep`` of those folded."""
        keep = self.source.keep
        snap = self.source.latest
        if keep is None or snap is None:
            return
        book, totals = self._book, self._totals
        while totals.n < book.n:
            t = book.trades[totals.n - book.dropped]
            if t.is_open:
                break
            cur = self.pnl_currency_of(t.instrument, snap)
            if cur != self.currency:
                break
            totals.add(t, cur)
        cut = totals.n - keep
        if cut - book.dropped > keep:
            for tid in range(book.dropped + 1, cut + 1):
                self._closed_json.pop(tid, None)
                self._closed_text.pop(tid, None)
            book.drop(cut)

    def _tail(self, snap: Snapshot) -> list[Trade]:
        """The trades after those folded into the running totals, by id."""
        self.fold(snap.n_fills)
        book = self._book
        return book.trades[self._totals.n - book.dropped :]

    def trade_json(self, t: Trade, snap: Snapshot | None = None) -> dict[str, Any]:
        """One trade in Freqtrade's ``TradeSchema`` shape (plus ``instrument``), its open
        part valued as of ``snap`` (the latest snapshot by default)."""
        if not t.is_open:
            cached = self._closed_json.get(t.trade_id)
            if cached is None:
                cached = self._trade_json(t, self.snap)
                if t.trade_id > self._book.dropped:  # (a trade read back is not kept)
                    self._closed_json[t.trade_id] = cached
            return cached
        return self._trade_json(t, snap or self.snap)

    def _trade_json(self, t: Trade, snap: Snapshot) -> dict[str, Any]:
        pf = snap.portfolio
        inst = snap.instruments.get(t.instrument)
        symbol = inst.symbol if inst else t.instrument.partition(":")[2]
        venue = inst.venue if inst else t.instrument.partition(":")[0]
        base, quote = split_symbol(symbol)
        pnl_cur = self.pnl_currency_of(t.instrument, snap)
        stake = t.stake
        out: dict[str, Any] = {
            "trade_id": t.trade_id,
            "pair": t.instrument,
            "instrument": t.instrument,
            "base_currency": base,
            "quote_currency": quote or self.currency,
            "is_open": t.is_open,
            "is_short": t.is_short,
            "exchange": venue,
            "amount": float(t.amount if not t.is_open else abs(pf.position(t.instrument).quantity)),
            "amount_requested": float(t.amount),
            "stake_amount": float(stake),
            "strategy": self.settings.preset,
            "enter_tag": "entry",
            "timeframe": self.strategy_tf // 60_000_000_000,
            "fee_open_cost": float(t.fee_open),
            "fee_open_currency": pnl_cur,
            "fee_close_cost": float(t.fee_close),
            "fee_close_currency": pnl_cur,
            # tradewind's: the currency of every profit and fee amount of this trade, and the
            # fees paid in a third currency (not in its profit), per currency.
            "pnl_currency": pnl_cur,
            "other_fees": {c: str(v) for c, v in sorted(t.other_fees.items())},
            "fees_not_converted": "; ".join(t.fees_not_converted) or None,
            "open_date": _date(t.open_ts_ns),
            "open_timestamp": _ms(t.open_ts_ns),
            "open_fill_date": _date(t.open_ts_ns),
            "open_fill_timestamp": _ms(t.open_ts_ns),
            "open_rate": float(t.open_rate),
            "open_trade_value": float(stake),
            "close_date": _date(t.close_ts_ns),
            "close_timestamp": _ms(t.close_ts_ns),
            "close_rate": None if t.close_rate is None else float(t.close_rate),
            "realized_profit": float(t.realized),
            "exit_reason": t.exit_reason or None,
            "has_open_orders": t.is_open
            and any(o.instrument == t.instrument for o in pf.open_orders()),
            "orders": [
                {
                    "pair": t.instrument,
                    "order_id": f.client_order_id,
                    "status": "closed",
                    "amount": float(f.quantity),
                    "safe_price": float(f.price),
                    "cost": float(f.quantity * f.price),
                    "filled": float(f.quantity),
                    "ft_order_side": f.side.value,
                    "order_type": "market",
                    "is_open": False,
                    "order_timestamp": _ms(f.ts_ns),
                    "order_filled_timestamp": _ms(f.ts_ns),
                }
                for f in t.orders
            ],
            "leverage": 1.0,
            "trading_mode": "futures" if inst and inst.kind.value == "perp" else "spot",
        }
        if t.is_open:
            pos = pf.position(t.instrument)
            last = pf.last_price(t.instrument)
            mark = Decimal(repr(last)) if not math.isnan(last) else t.open_rate
            unrealized = pos.unrealized_pnl(mark) if not pos.is_flat else ZERO
            profit = t.realized + unrealized - t.fee_open - t.fee_close
            out.update(
                current_rate=float(mark),
                profit_abs=float(profit),
                profit_ratio=float(profit / stake) if stake else 0.0,
                profit_pct=round(float(profit / stake) * 100, 2) if stake else 0.0,
                total_profit_abs=float(profit),
                unrealized_profit=float(unrealized),
                unrealized_profit_exact=str(unrealized),
            )
            money: tuple[str, ...] = ("profit_abs", "profit_ratio", "profit_pct")
            money += ("total_profit_abs",)
        else:
            profit = t.realized - t.fee_open - t.fee_close
            ratio = float(profit / stake) if stake else 0.0
            out.update(
                close_profit=ratio,
                close_profit_pct=round(ratio * 100, 2),
                close_profit_abs=float(profit),
                profit_abs=float(profit),
                profit_ratio=ratio,
                profit_pct=round(ratio * 100, 2),
                profit_exact=str(profit),
            )
            money = ("close_profit", "close_profit_pct", "close_profit_abs", "profit_abs")
            money += ("profit_ratio", "profit_pct", "profit_exact")
        if t.fees_not_converted:
            # A fee in a third currency had no price at its fill: the profit is not known
            # (``fees_not_converted`` says why), never the gross.
            for key in money:
                out[key] = None
        return out

    def status(self) -> list[dict[str, Any]]:
        """Open trades (Freqtrade's ``/status``)."""
        snap = self.snap
        return [self.trade_json(t, snap) for t in self.open_trades(snap)]

    def trades_page_json(self, limit: int, offset: int) -> tuple[bytes, str]:
        """:meth:`trades_page` as the JSON bytes the API sends, and its entity tag (the same
        tag, the same bytes, for as long as this view lives).

        Closed trades never change: each is encoded once, and the run of closed trades a page
        starts with is joined once and kept (:data:`PAGE_CACHE_BYTES`); a page with no open
        trade is kept whole until the number of trades changes, and one with open trades
        (valued at the snapshot) until the snapshot does. So a page asked again costs a
        dict lookup, and a page whose open trade moved costs encoding that trade and one
        join of bytes."""
        snap = self.snap
        self.fold(snap.n_fills)
        total = self._book.n
        end = min(offset + limit, total)
        open_ids = [t.trade_id for t in self._book.current.values() if offset < t.trade_id <= end]
        version = snap.version if open_ids else None
        key = (offset, limit)
        page = self._pages.get(key)
        if page is not None and page.total == total and page.version == version:
            return page.body, page.etag
        # Trades before the first open one (ids count from 1) are closed: joined once.
        first_open = min(open_ids) - 1 if open_ids else max(end, offset)
        if page is not None and page.prefix_end == first_open:
            prefix = page.prefix
        else:
            prefix = b",".join(
                self._trade_bytes(t, snap) for t in self.trades_range(offset, first_open)
            )
        items = [prefix] if prefix else []
        items.extend(self._trade_bytes(t, snap) for t in self.trades_range(first_open, end))
        count = max(0, end - offset)
        body = b"".join(
            (
                b'{"trades":[',
                b",".join(items),
                b'],"trades_count":%d,"offset":%d,"total_trades":%d}' % (count, offset, total),
            )
        )
        tag = f"{self._etag_base}-{offset}-{limit}-{total}-{'c' if version is None else version}"
        page = _Page(total, version, first_open, prefix, body, f'"{tag}"')
        self._pages.pop(key, None)
        self._pages[key] = page
        kept = sum(len(p.body) + len(p.prefix) for p in self._pages.values())
        while kept > PAGE_CACHE_BYTES and len(self._pages) > 1:
            old = self._pages.pop(next(iter(self._pages)))  # the least recently built
            kept -= len(old.body) + len(old.prefix)
        return page.body, page.etag

    def _trade_bytes(self, t: Trade, snap: Snapshot) -> bytes:
        """One trade's JSON as sent; a closed trade's is encoded once and kept."""
        if t.is_open:
            return _dumps(self.trade_json(t, snap)).encode()
        text = self._closed_text.get(t.trade_id)
        if text is None:
            text = _dumps(self.trade_json(t, snap)).encode()
            if t.trade_id > self._book.dropped:  # (a trade read back is not kept)
                self._closed_text[t.trade_id] = text
        return text

    def trades_page(self, limit: int, offset: int) -> dict[str, Any]:
        """Freqtrade's ``TradeResponse``: trades by id, paged."""
        snap = self.snap
        self.fold(snap.n_fills)
        page = self.trades_range(offset, offset + limit)
        return {
            "trades": [self.trade_json(t, snap) for t in page],
            "trades_count": len(page),
            "offset": offset,
            "total_trades": self._book.n,
        }

    # -- money ----------------------------------------------------------------------------
    def balance(self) -> dict[str, Any]:
        """Freqtrade's ``Balances``: cash, positions and equity in the account currency."""
        pf = self.snap.portfolio
        cur = self.currency
        equity = pf.equity()
        start = pf.starting_equity()
        used = sum((abs(p.cost) for p in pf.positions()), ZERO)
        currencies: list[dict[str, Any]] = [
            {
                "currency": cur,
                "free": float(pf.cash),
                "balance": float(pf.cash),
                "used": float(used),
                "bot_owned": float(pf.cash),
                "est_stake": float(pf.cash),
                "est_stake_bot": float(pf.cash),
                "stake": cur,
                "side": "long",
                "leverage": 1.0,
                "is_position": False,
                "position": 0.0,
                "is_bot_managed": True,
            }
        ]
        for p in pf.positions():
            currencies.append(
                {
                    "currency": p.instrument,
                    "free": 0.0,
                    "balance": float(abs(p.quantity)),
                    "used": float(abs(p.quantity)),
                    "est_stake": float(abs(p.cost)),
                    "stake": cur,
                    "side": "short" if p.quantity < 0 else "long",
                    "leverage": 1.0,
                    "is_position": True,
                    "position": float(abs(p.quantity)),
                    "is_bot_managed": True,
                }
            )
        ratio = float((equity - start) / start) if start else 0.0
        return {
            "currencies": currencies,
            "total": float(equity),
            "total_bot": float(equity),
            "symbol": cur,
            "value": float(equity),
            "value_bot": float(equity),
            "stake": cur,
            "note": "paper account" if self.settings.mode != "live" else "",
            "starting_capital": float(start),
            "starting_capital_ratio": ratio,
            "starting_capital_pct": round(ratio * 100, 2),
            "starting_capital_fiat": float(start),
            "starting_capital_fiat_ratio": ratio,
            "starting_capital_fiat_pct": round(ratio * 100, 2),
            "equity_exact": str(equity),
            "cash_exact": str(pf.cash),
        }

    def max_open(self) -> int:
        """The ``maxpositions`` filter's limit, or -1 (unlimited) without one."""
        return self.settings.max_open

    def count(self) -> dict[str, Any]:
        """Freqtrade's ``Count``: open trades, the limit, and their entry notional."""
        open_trades = self.open_trades()
        return {
            "current": len(open_trades),
            "max": self.max_open(),
            "total_stake": float(sum((t.stake for t in open_trades), ZERO)),
        }

    def profit(self) -> dict[str, Any]:
        """Freqtrade's ``Profit`` summary over the session's trades: the running totals of the
        trades folded in, walked on over the others by id (:mod:`tradewind.api.totals`)."""
        snap = self.snap
        tail = self._tail(snap)
        start = snap.portfolio.starting_equity() or Decimal(1)
        # Money is summed in the reporting currency, each trade's converted from its P&L
        # currency at the engine's marks; a currency without a price makes every money sum
        # null (the per-currency sums say what there is), never a raw sum of currencies.
        conv = _Converter(snap, self)
        loop = self._totals.profit.copy()
        for t in tail:
            if t.is_open:
                j = self.trade_json(t, snap)
                profit_abs, ratio = j["profit_abs"], j["profit_ratio"]
            else:
                _, profit_abs, ratio = closed_profit(t)
            loop.add(t, self.pnl_currency_of(t.instrument, snap), conv, profit_abs, ratio)
        conv.errors.update(loop.errors)
        closed_ratios = loop.closed_ratios
        best = max(loop.by_pair.items(), key=lambda kv: kv[1]) if loop.by_pair else ("", ZERO)
        n_closed = loop.n_closed
        avg = loop.durations // n_closed if n_closed else 0
        first = loop.first if loop.n else 0
        latest = loop.latest
        dd_abs, dd_start, dd_end = loop.worst
        closed_sum = loop.closed_sum
        all_sum = loop.all_sum
        gross_win = loop.gross_win
        gross_loss = -loop.loss_sum
        out: dict[str, Any] = {
            "profit_closed_coin": float(closed_sum),
            "profit_closed_percent_mean": round(closed_ratios.mean() * 100, 2),
            "profit_closed_ratio_mean": closed_ratios.mean(),
            "profit_closed_percent_sum": round(closed_ratios.value() * 100, 2),
            "profit_closed_ratio_sum": closed_ratios.value(),
            "profit_closed_percent": round(float(closed_sum / start) * 100, 2),
            "profit_closed_ratio": float(closed_sum / start),
            "profit_closed_fiat": float(closed_sum),
            "profit_all_coin": float(all_sum),
            "profit_all_percent_mean": round(loop.ratios.mean() * 100, 2),
            "profit_all_ratio_mean": loop.ratios.mean(),
            "profit_all_percent_sum": round(loop.ratios.value() * 100, 2),
            "profit_all_ratio_sum": loop.ratios.value(),
            "profit_all_percent": round(float(all_sum / start) * 100, 2),
            "profit_all_ratio": float(all_sum / start),
            "profit_all_fiat": float(all_sum),
            "trade_count": loop.n,
            "closed_trade_count": n_closed,
            "first_trade_date": _date(first) or "",
            "first_trade_humanized": _date(first) or "",
            "first_trade_timestamp": _ms(first) or 0,
            "latest_trade_date": _date(latest) or "",
            "latest_trade_humanized": _date(latest) or "",
            "latest_trade_timestamp": _ms(latest) or 0,
            "avg_duration": str(dt.timedelta(seconds=avg // 1_000_000_000)),
            "best_pair": best[0],
            "best_rate": round(float(best[1] / start) * 100, 2),
            "best_pair_profit_ratio": float(best[1] / start),
            "winning_trades": loop.wins,
            "losing_trades": loop.losses,
            "profit_factor": float(gross_win / gross_loss) if gross_loss else 0.0,
            "winrate": loop.wins / n_closed if n_closed else 0.0,
            "expectancy": float(closed_sum / n_closed) if n_closed else 0.0,
            "expectancy_ratio": closed_ratios.mean(),
            "max_drawdown": float(dd_abs / start),
            "max_drawdown_abs": float(dd_abs),
            "max_drawdown_start": _date(dd_start) or "",
            "max_drawdown_start_timestamp": _ms(dd_start) or 0,
            "max_drawdown_end": _date(dd_end) or "",
            "max_drawdown_end_timestamp": _ms(dd_end) or 0,
            "trading_volume": float(loop.volume),
            "bot_start_timestamp": _ms(self.started_ts_ns) or 0,
            "bot_start_date": _date(self.started_ts_ns) or "",
        }
        out = conv.finish(out, closed=loop.closed_by, every=loop.all_by)
        # tradewind's: the fees of every trade per currency as charged, and what they cost
        # (a third currency's at its price at the fill) in the reporting currency at the
        # engine's rates (null, with the reason, when one has no price).
        if loop.unconverted:
            # Some trades' profit is unknown: no mean or sum of ratios, no win count.
            for key in _PROFIT_RATIOS:
                out[key] = None
        fees = priced_total(
            loop.fees_by,
            loop.fees_valued.items(),
            loop.fees_missing,
            self.currency,
            snap.portfolio.rate,
        )
        out["fees_paid"] = None if fees.total is None else str(fees.total)
        out["fees_paid_by_currency"] = fees.to_json()
        out["fees_not_converted"] = fees.error or None
        return out

    def performance(self) -> list[dict[str, Any]]:
        """Freqtrade's ``/performance``: closed-trade profit per pair, best first.
        ``profit_abs`` is in the pair's ``pnl_currency``; the ratios to the starting equity
        convert it to the reporting currency (null when it cannot be)."""
        snap = self.snap
        tail = self._tail(snap)
        start = snap.portfolio.starting_equity() or Decimal(1)
        conv = _Converter(snap, self)
        acc = {pair: list(row) for pair, row in self._totals.performance.items()}
        for t in tail:
            add_performance(acc, t)
        out = []
        for pair, (p, n) in acc.items():
            rate = conv.rate(pair)
            ratio = None if rate is None or p is None else float(p * rate / start)
            out.append(
                {
                    "pair": pair,
                    "profit": None if ratio is None else round(ratio * 100, 2),
                    "profit_ratio": ratio,
                    "profit_pct": None if ratio is None else round(ratio * 100, 2),
                    "profit_abs": None if p is None else float(p),
                    "pnl_currency": self.pnl_currency_of(pair, snap),
                    "count": n,
                }
            )
        return sorted(
            out, key=lambda r: -(r["profit_ratio"] if r["profit_ratio"] is not None else 0.0)
        )

    def periodic(self, unit: str, count: int) -> dict[str, Any]:
        """Freqtrade's daily/weekly/monthly: closed-trade profit per period (market time)."""
        snap = self.snap
        totals = self._totals
        closed = [t for t in self._tail(snap) if not t.is_open and t.close_ts_ns]
        conv = _Converter(snap, self)
        conv.unpriced(closed)
        conv.errors.update(totals.closed_errors)
        start_eq = snap.portfolio.starting_equity()
        last_ts = max(max((t.close_ts_ns or 0 for t in closed), default=0), totals.last_close) or (
            snap.portfolio.ts_ns or snap.now_ns
        )
        end = dt.datetime.fromtimestamp(last_ts / 1e9, tz=dt.UTC).date()
        periods = [period_start(end, unit, -i) for i in range(count)]
        folded = totals.periods[unit]
        acc: dict[dt.date, list[Any]] = {p: list(folded.get(p, (ZERO, 0))) for p in periods}
        for t in closed:
            key = period_start(close_day(t), unit, 0)
            if key in acc:
                acc[key][0] += conv(t.instrument, t.profit or ZERO)
                acc[key][1] += 1
        # Starting balance of each period: the start equity plus what earlier periods made
        # (the folded trades' per period, in order, then the others').
        before = ZERO
        for key in sorted(folded):
            if key < periods[-1]:
                before += folded[key][0]
        for t in closed:
            if period_start(close_day(t), unit, 0) < periods[-1]:
                before += conv(t.instrument, t.profit or ZERO)
        running = start_eq + before
        data = []
        for p in reversed(periods):
            profit, n = acc[p]
            data.append(
                {
                    "date": p.isoformat(),
                    "abs_profit": float(profit),
                    "rel_profit": float(profit / running) if running else 0.0,
                    "starting_balance": float(running),
                    "fiat_value": float(profit),
                    "trade_count": n,
                }
            )
            running += profit
        data.reverse()
        if conv.errors:
            # A trade's P&L currency has no price yet: no period's money is known.
            for row in data:
                for money in ("abs_profit", "rel_profit", "starting_balance", "fiat_value"):
                    row[money] = None
        return {
            "data": data,
            "fiat_display_currency": self.currency,
            "stake_currency": self.currency,
            "conversion_error": "; ".join(f"{c}: {e}" for c, e in sorted(conv.errors.items()))
            or None,
        }

    def stats(self) -> dict[str, Any]:
        """Freqtrade's ``Stats``: wins/losses/draws per exit reason, mean durations (s)."""
        totals = self._totals
        reasons = {r: dict(kinds) for r, kinds in totals.reasons.items()}
        durs = {k: v.copy() for k, v in totals.durations.items()}
        for t in self._tail(self.snap):
            add_stats(reasons, durs, t)
        return {
            "exit_reasons": reasons,
            "durations": {k: (v.mean() if v.n else None) for k, v in durs.items()},
        }

    # -- what the strategy saw ------------------------------------------------------------
    def _page(self, table: str, limit: int, offset: int) -> dict[str, Any]:
        j = self.journal
        total = int(
            self._q(f"SELECT count(*) FROM {table} WHERE session_id = ?", [j.session_id])[0][0]
        )
        rows = self._q(
            f"SELECT {', '.join(JOURNAL_PAGES[table])} FROM {table} WHERE session_id = ? "
            "ORDER BY seq DESC LIMIT ? OFFSET ?",
            [j.session_id, limit, offset],
        )
        return journal_page(table, rows, total, limit, offset)

    def signals(self, limit: int, offset: int) -> dict[str, Any]:
        """Signals, newest first, with the analyzer values that produced them."""
        return self._page("signals", limit, offset)

    def vetoes(self, limit: int, offset: int) -> dict[str, Any]:
        """Vetoes, newest first, with the filter and its reason."""
        return self._page("vetoes", limit, offset)

    def kept_page(self, table: str, limit: int, offset: int) -> dict[str, Any] | None:
        """A page of ``/signals`` or ``/vetoes`` from rows kept where the request is handled
        (an API process's mirror); None: ask the host, whose journal has them all."""
        return None

    def kept_fills(self, limit: int) -> list[dict[str, Any]] | None:
        """``/fills`` from rows kept where the request is handled; None: ask the host."""
        return None

    def fills(self, limit: int) -> list[dict[str, Any]]:
        """The latest fills, newest first."""
        j = self.journal
        rows = self._q(
            f"SELECT {', '.join(JOURNAL_PAGES['fills'])} "
            "FROM fills WHERE session_id = ? ORDER BY seq DESC LIMIT ?",
            [j.session_id, limit],
        )
        return [journal_item("fills", r) for r in rows]

    def funnel(self) -> dict[str, Any]:
        """Candidates at each level: evaluated, rejected per gate, signals, vetoes, orders
        (the report's funnel, as of the latest snapshot)."""
        snap = self.snap
        return {"funnel": dict(snap.funnel), "decisions": snap.decisions}

    def equity(self, points: int) -> dict[str, Any]:
        """The equity curve (one point per decision), thinned to at most ``points``."""
        snap = self.snap
        n, equity = snap.n_equity, self.source.equity
        step = max(1, math.ceil(n / points)) if points > 0 else 1
        # Only the points sent are read (the older from the curve store), and the last.
        sample = equity.sample(n, step)
        if n and (n - 1) % step:
            sample.append(equity.item(n - 1))
        return {
            "currency": self.currency,
            "equity": float(snap.portfolio.equity()),
            "points": [[_ms(ts), v] for ts, v in sample],
        }

    def pair_candles(self, pair: str, timeframe_ns: int, limit: int) -> dict[str, Any] | None:
        """Recent candles of ``pair`` with the signals at them and the analyzers' values."""
        buf = self.candles.get((pair, timeframe_ns))
        st = self.engine.state.get(pair)
        if st is None:
            return None
        candles = list(buf or ())[-limit:]
        j = self.journal
        lo = candles[0].open_ts_ns if candles else 0
        sig: dict[int, str] = {}
        for ts, side in self._q(
            "SELECT ts_ns, side FROM signals "
            "WHERE session_id = ? AND instrument = ? AND ts_ns >= ?",
            [j.session_id, pair, lo],
        ):
            sig[int(ts)] = side
        columns = [
            "date",
            "open",
            "high",
            "low",
            "close",
            "volume",
            "buy_volume",
            "sell_volume",
            "enter_long",
            "enter_short",
        ]
        data = []
        for c in candles:
            close_ts = c.open_ts_ns + c.timeframe_ns
            side = sig.get(close_ts)
            data.append(
                [
                    _date(c.open_ts_ns),
                    c.open,
                    c.high,
                    c.low,
                    c.close,
                    c.volume,
                    c.buy_volume,
                    c.sell_volume,
                    int(side == "buy"),
                    int(side == "sell"),
                ]
            )
        values = {
            k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in st.values.items()
        }
        return {
            "pair": pair,
            "timeframe": _tf_name(timeframe_ns),
            "timeframe_ms": timeframe_ns // 1_000_000,
            "columns": columns,
            "data": data,
            "length": len(data),
            "enter_long_signals": sum(r[-2] for r in data),
            "enter_short_signals": sum(r[-1] for r in data),
            "buy_signals": sum(r[-2] for r in data),
            "sell_signals": sum(r[-1] for r in data),
            "exit_long_signals": 0,
            "exit_short_signals": 0,
            "last_analyzed_ts": _ms(candles[-1].open_ts_ns + candles[-1].timeframe_ns)
            if candles
            else 0,
            "analyzer_values": values,
        }

    # -- the host ------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """Freqtrade's ``Health``: when the engine last processed market data."""
        snap = self.snap
        last = snap.portfolio.ts_ns
        return {
            "last_process": _date(last),
            "last_process_ts": (last // 1_000_000_000) if last else None,
            "bot_start": _date(self.started_ts_ns),
            "bot_start_ts": self.started_ts_ns // 1_000_000_000,
            "bot_startup": _date(self.started_ts_ns),
            "bot_startup_ts": self.started_ts_ns // 1_000_000_000,
            "ticks": snap.ticks,
            "decisions": snap.decisions,
        }

    def show_config(self) -> dict[str, Any]:
        """Freqtrade's ``ShowConfig`` fields that apply, and tradewind's config, with every
        secret shown as its ``env:NAME`` reference (never its value)."""
        cfg = self.engine.config
        from tradewind.trading.operator import Operator

        operator = Operator.of(self.engine)
        return {
            "version": __version__,
            "api_version": 2.0,
            "dry_run": cfg.mode.value != "live",
            "trading_mode": "futures"
            if any(i.kind.value == "perp" for i in cfg.instruments)
            else "spot",
            "short_allowed": True,
            "stake_currency": self.currency,
            "stake_amount": "risk-sized",
            "max_open_trades": self.max_open(),
            "stoploss": -cfg.strategy.stop_pct,
            "stoploss_on_exchange": False,
            "timeframe": cfg.strategy.timeframe,
            "timeframe_ms": self.engine.strategy_tf // 1_000_000,
            "timeframe_min": self.engine.strategy_tf // 60_000_000_000,
            "exchange": ", ".join(cfg.instances("venues")),
            "strategy": cfg.strategy.preset or cfg.strategy.composition,
            "force_entry_enable": True,
            "bot_name": "tradewind",
            "state": operator.state,
            "runmode": cfg.mode.value,
            "position_adjustment_enable": False,
            "max_entry_position_adjustment": 0,
            "tradewind": {
                "mode": cfg.mode.value,
                "timeframes": [_tf_name(t) for t in cfg.timeframes_ns],
                "run": redact(cfg.run),
                "instruments": redact(list(cfg.instruments)),
                "strategy": redact(cfg.strategy),
                "api": redact(cfg.api),
                "watchlist": redact(cfg.watchlist),
                "plugins": {
                    kind: {
                        key: {"plugin": p.plugin, "config": redact(p.config)}
                        for key, p in inst.items()
                    }
                    for kind, inst in cfg.plugins.items()
                },
            },
        }

    def plugins(self) -> dict[str, Any]:
        """The plugin instances this host runs, with their distributions and capabilities."""
        from tradewind.installed import inventory

        dists = {(p.kind, p.name): p for p in inventory()}
        out: dict[str, list[dict[str, Any]]] = {}
        for kind, instances in self.engine.config.plugins.items():
            for key, p in instances.items():
                info = dists.get((kind, p.plugin))
                cls = self.engine.config.host.plugin_class(kind, p.plugin)
                out.setdefault(kind, []).append(
                    {
                        "instance": key,
                        "plugin": p.plugin,
                        "distribution": info.distribution if info else "",
                        "version": info.version if info else "",
                        "capabilities": sorted(getattr(cls, "capabilities", ()) or ()),
                    }
                )
        return {"plugins": out}


@attrs.define
class _Page:
    """A ``trades`` page as sent, and what it was built from."""

    #: The number of trades (the page's ``total_trades``) when it was built.
    total: int
    #: The snapshot's version when the page holds an open trade (valued at it), else None.
    version: int | None
    #: The index after the page's leading run of closed trades, and their JSON joined.
    prefix_end: int
    prefix: bytes
    body: bytes
    etag: str


def _dumps(value: Any) -> str:
    """JSON text as the API sends it (Starlette's JSONResponse settings)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _tf_name(ns: int) -> str:
    from tradewind.timeframes import format_timeframe

    return format_timeframe(ns)


#: The fields of ``/profit`` over every trade's own ratio or outcome: null when a trade's
#: profit is unknown (a third-currency fee without a price at its fill).
_PROFIT_RATIOS = (
    "profit_closed_percent_mean",
    "profit_closed_ratio_mean",
    "profit_closed_percent_sum",
    "profit_closed_ratio_sum",
    "profit_all_percent_mean",
    "profit_all_ratio_mean",
    "profit_all_percent_sum",
    "profit_all_ratio_sum",
    "winning_trades",
    "losing_trades",
    "winrate",
    "expectancy_ratio",
)

#: The money fields of ``/profit`` (sums of trades' profit, and their ratios to the starting
#: equity): null when a trade's P&L currency has no price in the reporting currency.
_PROFIT_MONEY = (
    "profit_closed_coin",
    "profit_closed_percent",
    "profit_closed_ratio",
    "profit_closed_fiat",
    "profit_all_coin",
    "profit_all_percent",
    "profit_all_ratio",
    "profit_all_fiat",
    "best_pair",
    "best_rate",
    "best_pair_profit_ratio",
    "profit_factor",
    "expectancy",
    "max_drawdown",
    "max_drawdown_abs",
    "max_drawdown_start",
    "max_drawdown_start_timestamp",
    "max_drawdown_end",
    "max_drawdown_end_timestamp",
    "trading_volume",
)


class _Converter:
    """Amounts of instruments' P&L currencies in the reporting currency, at the snapshot's
    rates; remembers the currencies it could not convert."""

    def __init__(self, snap: Snapshot, view: HostView) -> None:
        self.snap = snap
        self.view = view
        self.rates: dict[str, Decimal | None] = {view.currency: Decimal(1)}
        self.errors: dict[str, str] = {}

    def rate(self, instrument: str) -> Decimal | None:
        """The instrument's P&L currency's price in the reporting currency, or None."""
        cur = self.view.pnl_currency_of(instrument, self.snap)
        if cur not in self.rates:
            try:
                self.rates[cur] = self.snap.portfolio.rate(cur)
            except ConversionError as exc:
                self.rates[cur] = None
                self.errors[cur] = str(exc)
        return self.rates[cur]

    def unpriced(self, trades: Iterable[Trade]) -> None:
        """Remember the trades whose profit is unknown (a third-currency fee without a price
        at its fill): every money sum is then null, as for a currency without a price."""
        for t in trades:
            if t.fees_not_converted:
                self.errors[f"fees of trade {t.trade_id}"] = "; ".join(t.fees_not_converted)

    def __call__(self, instrument: str, amount: Decimal) -> Decimal:
        """``amount`` in the reporting currency (0 when it cannot be: :meth:`finish` then
        nulls every sum it entered)."""
        r = self.rate(instrument)
        return ZERO if r is None else amount * r

    def finish(
        self,
        out: dict[str, Any],
        *,
        closed: Mapping[str, Decimal],
        every: Mapping[str, Decimal],
    ) -> dict[str, Any]:
        """``out`` with the currency, the sums per P&L currency (``closed``, ``every``: the
        closed trades' and every trade's), and its money fields nulled when a currency could
        not be converted (``conversion_error`` says why)."""
        out["currency"] = self.view.currency
        for name, by in (("closed", closed), ("all", every)):
            out[f"profit_{name}_by_currency"] = {c: str(v) for c, v in sorted(by.items())}
        out["conversion_error"] = None
        if self.errors:
            for key in _PROFIT_MONEY:
                out[key] = None
            out["conversion_error"] = "; ".join(f"{c}: {e}" for c, e in sorted(self.errors.items()))
        return out
