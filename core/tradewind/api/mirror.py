"""The API process's copy of its host's state, rebuilt from the updates the host sends.

The host sends, at most about a hundred times a second and only once the API process applied
the previous one, its latest snapshot (tradewind.api.snapshot) and what grew since the last
update: new fills with their orders' tags, new equity points, the journal's newest rows of
``signals``, ``vetoes`` and ``fills`` and, while websocket clients are connected, the bus
events for them (:func:`tradewind.api.procserver` builds them). The
:class:`Mirror` applies them; :class:`MirrorView` is a :class:`~tradewind.api.views.HostView`
whose snapshot views (``status``, ``trades``, ``balance``, ``count``, ``profit``, ...) answer
from the mirror exactly as they answer from the engine's snapshots in thread mode. The API
process never opens the journal and never sees the engine: everything else goes to the host
as a named operation (tradewind.api.ops).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Mapping
from typing import Any

import attrs

from tradewind.api.snapshot import PortfolioSnapshot, Snapshot, fill_from_row
from tradewind.api.totals import Totals
from tradewind.api.views import (
    HostView,
    LogBuffer,
    NotKept,
    Trade,
    TradeBook,
    ViewSettings,
    journal_item,
    journal_page,
    watchlist_listing,
)
from tradewind.api.window import SpilledPoints, Window
from tradewind.api.wire import WireError, instrument_from, order_from, position_from
from tradewind.model import Fill, Instrument
from tradewind.trading.curves import CurveStore
from tradewind.trading.watchlist import WatchlistEntry

_WATCHLIST_FIELDS = [f.name for f in attrs.fields(WatchlistEntry)]


class MirrorSource:
    """What :class:`~tradewind.api.snapshot.SnapshotSource` holds, filled from updates.

    When the host's source keeps a window (paper, live: the update's ``keep``), so does the
    mirror: the fills it lets go of are folded into the view's trades first (the only reader
    of older fills here; the API process has no journal), and the view keeps the newest
    trades and the statistics' running totals as the host's does (older trades are asked of
    the host); the equity points it lets go of are written to a curve store of the API
    process's own and read back from it."""

    def __init__(self, view: HostView | None = None) -> None:
        self._view = view
        #: Every fill of the session in booking order (append-only; the newest kept).
        self.fills: Window[Fill] = Window(None, None, self._fold_first)
        #: The tag of each kept fill's order.
        self.tags: dict[str, str] = {}
        self._spilled = SpilledPoints(CurveStore)
        #: The equity curve (append-only; the older points in a curve store).
        self.equity: Window[tuple[int, float]] = Window(
            None, self._spilled.read, self._spilled.spill
        )
        self.latest: Snapshot | None = None
        #: Updates applied.
        self.published = 0

    @property
    def keep(self) -> int | None:
        """The fills and equity points kept in memory (None: every one)."""
        return self.fills.keep

    def publish(self) -> Snapshot | None:
        """Nothing to take here: the host publishes, updates bring it."""
        return None

    def fills_and_tags(self, start: int, stop: int) -> tuple[list[Fill], Mapping[str, str]]:
        """Fills ``start:stop`` and the tags of the kept fills' orders."""
        return self.fills[start:stop], self.tags

    def close(self) -> None:
        """Nothing held open."""

    def _fold_first(self, first: int, fills: list[Fill]) -> int:
        """Before :attr:`fills` lets go of ``fills``: the view's trades take them in, and
        only the kept fills' tags stay."""
        if self._view is None:
            return 0
        self._view.fold(first + len(fills))
        kept = self.fills.kept[len(fills) :]
        tags = self.tags
        self.tags = {
            f.client_order_id: tags[f.client_order_id] for f in kept if f.client_order_id in tags
        }
        return len(fills)


#: Rows of each journal table the API pages (``signals``, ``vetoes``, ``fills``) that the
#: mirror keeps, newest; a page reaching past them is asked of the host's journal.
KEPT_ROWS = 5_000


class JournalTail:
    """The newest rows of one journal table of the host's session (the API's columns,
    :data:`~tradewind.api.views.JOURNAL_PAGES`), oldest first, and how many it has."""

    def __init__(self) -> None:
        self.rows: deque[tuple[Any, ...]] = deque(maxlen=KEPT_ROWS)
        #: The session's rows in the host's journal (kept or not).
        self.total = 0

    def newest(self, limit: int, offset: int) -> list[tuple[Any, ...]] | None:
        """Rows ``offset`` to ``offset + limit`` counted from the newest, newest first; None
        when some of them are not kept."""
        rows = self.rows
        if offset + limit > len(rows) and len(rows) < self.total:
            return None
        end = len(rows) - offset
        if end <= 0:
            return []
        start = max(0, end - limit)
        return [rows[i] for i in range(end - 1, start - 1, -1)]


class MirrorView(HostView):
    """The snapshot views of a host, answered from updates (no engine, no journal)."""

    #: ``/logs`` answers from the mirror's copy of the host's log buffer, ``/watchlist``
    #: from its copy of the host's entries, ``/signals``, ``/vetoes`` and ``/fills`` from
    #: its copies of their newest journal rows.
    answers_from_mirror = True
    #: Trades the mirror let go of are asked of the host: no marks to rebuild them from.
    marks_trades = False

    def __init__(self, settings: ViewSettings, started_ts_ns: int) -> None:
        # Not HostView.__init__: that reads the engine this process does not have.
        self.settings = settings
        self.strategy_tf = settings.strategy_tf
        self.started_ts_ns = started_ts_ns
        self.logs = LogBuffer()
        self.candles: dict[Any, deque[Any]] = {}
        self._book = TradeBook()
        self._totals = Totals()
        self._marks = []
        self._cursor = None
        self._closed_json: dict[int, dict[str, Any]] = {}
        self._closed_text: dict[int, bytes] = {}
        self._pages: dict[tuple[int, int], Any] = {}
        self._etag_base = os.urandom(6).hex()
        self.listeners: list[Any] = []
        #: The host's watchlist entries (None until its watchlist is open).
        self.watchlist_entries: list[WatchlistEntry] | None = None
        #: The newest rows of the host's journal tables the API pages (empty until the host
        #: follows its journal: until then the host answers).
        self.tails: dict[str, JournalTail] = {}
        self.source = MirrorSource(self)  # type: ignore[assignment]

    @property
    def engine(self) -> Any:  # type: ignore[override]
        raise RuntimeError("an API process has no engine: ask the host (tradewind.api.ops)")

    @property
    def journal(self) -> Any:
        raise RuntimeError("an API process never opens the journal: ask the host")

    def _old_trades(self, lo: int, hi: int) -> list[Trade]:
        """Trades the mirror let go of: the host reads them back from its journal (the API
        asks it: :class:`~tradewind.api.views.NotKept`)."""
        raise NotKept(f"trades {lo + 1} to {hi} are no longer kept here: ask the host")

    def kept_page(self, table: str, limit: int, offset: int) -> dict[str, Any] | None:
        """``/signals`` or ``/vetoes`` from the kept rows, as the host's journal answers it
        (None: the page reaches past them, or the host's journal is not followed yet)."""
        tail = self.tails.get(table)
        rows = None if tail is None else tail.newest(limit, offset)
        if rows is None or tail is None:
            return None
        return journal_page(table, rows, tail.total, limit, offset)

    def kept_fills(self, limit: int) -> list[dict[str, Any]] | None:
        """``/fills`` from the kept rows (None: more than are kept, or not followed yet)."""
        tail = self.tails.get("fills")
        rows = None if tail is None else tail.newest(limit, 0)
        if rows is None:
            return None
        return [journal_item("fills", r) for r in rows]

    def watchlist(self, include_inactive: bool) -> dict[str, Any] | None:
        """``GET /watchlist`` from the host's entries as of the last update, their remaining
        time counted from that update's engine time (None: the watchlist is not open yet)."""
        if self.watchlist_entries is None:
            return None
        return watchlist_listing(
            self.watchlist_entries,
            include_inactive,
            self.snap.now_ns,
            self.settings.drives_instruments,
        )


class Mirror:
    """Applies the host's updates to a :class:`MirrorView`."""

    def __init__(self, view: MirrorView) -> None:
        self.view = view
        self._instruments: Mapping[str, Instrument] = {}
        #: The version of the last update applied (acknowledged to the host).
        self.version = 0
        #: Events the host could not keep for this process (a websocket gap).
        self.events_lost = 0

    def apply(self, u: Mapping[str, Any]) -> None:
        """Apply one update (see :func:`tradewind.api.procserver.build_update`)."""
        src = self.view.source
        if u["fills_from"] != len(src.fills) or u["equity_from"] != len(src.equity):
            raise WireError(
                f"update {u['version']} continues fills at {u['fills_from']} and equity at "
                f"{u['equity_from']}, the mirror has {len(src.fills)} and {len(src.equity)}"
            )
        src.fills.keep = src.equity.keep = u["keep"]
        src.tags.update(u["tags"])  # (before the fills: a fold as they come reads them)
        src.fills.extend(fill_from_row(r) for r in u["fills"])
        src.equity.extend((int(ts), float(v)) for ts, v in u["equity"])
        if u["instruments"] is not None:
            self._instruments = {k: instrument_from(t) for k, t in u["instruments"].items()}
        ts_ns, cash, positions, marks, orders, start, valued, rates, rate_errors = u["portfolio"]
        src.latest = Snapshot(
            version=u["version"],
            now_ns=u["now_ns"],
            ticks=u["ticks"],
            decisions=u["decisions"],
            state=u["state"],
            run_id=u["run_id"],
            portfolio=PortfolioSnapshot(
                ts_ns=ts_ns,
                cash=cash,
                open_positions=tuple(position_from(p) for p in positions),
                marks=dict(marks),
                orders=tuple(order_from(o) for o in orders),
                start=start,
                valued_equity=valued,
                rates=dict(rates),
                rate_errors=dict(rate_errors),
            ),
            instruments=self._instruments,
            n_fills=len(src.fills),
            n_equity=len(src.equity),
            funnel=dict(u["funnel"]),
        )
        src.published += 1
        self.version = u["version"]
        if u["events_lost"]:
            # Never a silent gap: websocket clients that missed events lose their connection.
            self.events_lost += u["events_lost"]
            for send in list(self.view.listeners):
                self.view.listeners.remove(send)
                send.close()
        if u["watchlist"] is not None:
            self.view.watchlist_entries = [
                WatchlistEntry(**dict(zip(_WATCHLIST_FIELDS, row, strict=True)))
                for row in u["watchlist"]
            ]
        for table, (start, rows, reset) in (u["journal"] or {}).items():
            tail = self.view.tails.get(table)
            if tail is None:
                if not reset:
                    raise WireError(f"update {u['version']} continues {table} never started")
                tail = self.view.tails[table] = JournalTail()
            if reset:
                tail.rows.clear()
            elif start != tail.total:
                raise WireError(
                    f"update {u['version']} continues {table} at {start}, "
                    f"the mirror has {tail.total}"
                )
            tail.rows.extend(tuple(r) for r in rows)
            tail.total = start + len(rows)
        self.view.logs.records.extend(u["logs"])
        self.view.logs.count += len(u["logs"])
        for item in u["events"]:
            self.view.fan_out(item)
