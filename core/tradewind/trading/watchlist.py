"""The watchlist: instruments an operator watches for a limited time (the seed's §5.3).

An entry names an exchange (the venue instance), a market type and a symbol, and lives for
``duration_hours`` (24 by default) unless renewed. Entries are rows of the ``watchlist`` table
in the host's journal, so they survive a restart. Time is the engine's injected clock.

A ``WatchlistExpiring`` event goes to the notifiers ``warn_before_hours`` before an entry
expires, a ``WatchlistExpired`` event when it does. With ``[watchlist] drives_instruments``
the engine takes entries for exactly the instruments on the active watchlist (the entry guard
of :mod:`tradewind.trading.control`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from tradewind.config import WatchlistSection
from tradewind.model import Event, Severity
from tradewind.notify.events import WatchlistExpiring  # the notifiers' own "expiring" event
from tradewind.trading.control import ControlError

if TYPE_CHECKING:
    from tradewind.journal.store import Journal
    from tradewind.trading.engine import Engine

NS_PER_HOUR = 3_600 * 1_000_000_000

# A table of its own, created beside the journal's (the journal's schema code is untouched).
SCHEMA = """
CREATE TABLE IF NOT EXISTS watchlist (
    instrument VARCHAR PRIMARY KEY,
    exchange VARCHAR,
    market_type VARCHAR,
    symbol VARCHAR,
    priority INTEGER,
    added_ts_ns BIGINT,
    expires_ts_ns BIGINT,
    warned BOOLEAN,
    status VARCHAR,
    caller VARCHAR,
    updated_ts_ns BIGINT
);
"""


@attrs.frozen(kw_only=True)
class WatchlistEntry:
    """One watched instrument: ``status`` is active, expired or removed."""

    instrument: str
    exchange: str
    market_type: str
    symbol: str
    priority: int
    added_ts_ns: int
    expires_ts_ns: int
    warned: bool
    status: str
    caller: str
    updated_ts_ns: int


@attrs.frozen(kw_only=True)
class WatchlistExpired(Event):
    """A watchlist entry expired: its instrument takes no new entries."""

    instrument: str
    severity = Severity.WARNING


@attrs.frozen(kw_only=True)
class WatchlistChanged(Event):
    """An operator added, renewed or removed a watchlist entry."""

    action: str
    instrument: str
    caller: str
    expires_ts_ns: int = 0
    severity = Severity.WARNING


_FIELDS = [f.name for f in attrs.fields(WatchlistEntry)]


class Watchlist:
    """The watchlist of one host, kept in its journal's database."""

    def __init__(
        self,
        journal: Journal,
        clock: Any,
        settings: WatchlistSection,
        *,
        known: dict[str, str] | None = None,
    ) -> None:
        """``known`` maps the host's instrument keys to their market types: when the
        watchlist drives the instrument set, only those can be added."""
        self.journal = journal
        self.clock = clock
        self.settings = settings
        self.known = known
        journal.query(SCHEMA)
        # The table is the record; reads come from this copy (the entry guard runs per signal).
        self._entries: dict[str, WatchlistEntry] = {}
        self._next_due: int | None = None
        #: Called after every change (add, renew, remove, an expiry sweep).
        self.listeners: list[Callable[[], None]] = []
        #: The market-data subscriptions it drives (set by the engine's watchlist service).
        self.subscriptions: Subscriptions | None = None
        self._reload()

    def _reload(self) -> None:
        sql = f"SELECT {', '.join(_FIELDS)} FROM watchlist"
        self._entries = {
            r[0]: WatchlistEntry(**dict(zip(_FIELDS, r, strict=True)))
            for r in self.journal.query(sql)
        }
        warn = int(self.settings.warn_before_hours * NS_PER_HOUR)
        dues = [
            e.expires_ts_ns if e.warned else e.expires_ts_ns - warn
            for e in self._entries.values()
            if e.status == "active"
        ]
        self._next_due = min(dues) if dues else None

    def _changed(self) -> None:
        for listener in self.listeners:
            listener()

    def due(self, now_ns: int) -> bool:
        """True when :meth:`sweep` has something to do at ``now_ns``."""
        return self._next_due is not None and now_ns >= self._next_due

    def get(self, instrument: str) -> WatchlistEntry | None:
        """The entry of ``instrument`` whatever its status, or None."""
        return self._entries.get(instrument)

    def entries(self, *, include_inactive: bool = False) -> list[WatchlistEntry]:
        """Active entries by priority (highest first), or every entry ever added."""
        out = [e for e in self._entries.values() if include_inactive or e.status == "active"]
        return sorted(out, key=lambda e: (-e.priority, e.instrument))

    def is_active(self, instrument: str, now_ns: int | None = None) -> bool:
        """True while ``instrument`` is on the list and not past its expiry at ``now_ns``."""
        now = self.clock.now_ns() if now_ns is None else now_ns
        e = self.get(instrument)
        return e is not None and e.status == "active" and now < e.expires_ts_ns

    def entry_guard(self, instrument: str) -> str | None:
        """The control's entry guard: a reason when ``instrument`` may not take entries."""
        if self.is_active(instrument):
            return None
        return f"{instrument} is not on the active watchlist"

    # -- changing -------------------------------------------------------------------------
    def add(
        self,
        *,
        exchange: str,
        market_type: str,
        symbol: str,
        caller: str,
        duration_hours: float | None = None,
        priority: int = 0,
    ) -> WatchlistEntry:
        """Put an instrument on the list (again) for ``duration_hours`` from now."""
        key = f"{exchange}:{symbol}"
        if self.known is not None:
            kind = self.known.get(key)
            if kind is None:
                have = ", ".join(sorted(self.known)) or "none"
                raise ControlError(
                    f"instrument '{key}' is not configured on this host (it trades: {have}); "
                    f"add an [[instruments]] table for it"
                )
            if kind != market_type:
                raise ControlError(
                    f"instrument '{key}' is a {kind} market on this host, not {market_type}"
                )
        hours = self.settings.default_hours if duration_hours is None else duration_hours
        if hours <= 0:
            raise ControlError(f"duration_hours must be positive, got {hours}")
        now = self.clock.now_ns()
        expires = now + int(hours * NS_PER_HOUR)
        self.journal.query("DELETE FROM watchlist WHERE instrument = ?", (key,))
        self.journal.query(
            "INSERT INTO watchlist VALUES (?, ?, ?, ?, ?, ?, ?, false, 'active', ?, ?)",
            (key, exchange, market_type, symbol, priority, now, expires, caller, now),
        )
        self._reload()
        self._changed()
        entry = self.get(key)
        assert entry is not None
        return entry

    def renew(
        self, instrument: str, *, caller: str, duration_hours: float | None = None
    ) -> WatchlistEntry:
        """Extend an entry by ``duration_hours`` from its expiry (or from now if it lapsed)."""
        e = self.get(instrument)
        if e is None or e.status == "removed":
            raise ControlError(f"'{instrument}' is not on the watchlist: add it first")
        hours = self.settings.default_hours if duration_hours is None else duration_hours
        if hours <= 0:
            raise ControlError(f"duration_hours must be positive, got {hours}")
        now = self.clock.now_ns()
        expires = max(e.expires_ts_ns, now) + int(hours * NS_PER_HOUR)
        self.journal.query(
            "UPDATE watchlist SET expires_ts_ns = ?, warned = false, status = 'active', "
            "caller = ?, updated_ts_ns = ? WHERE instrument = ?",
            (expires, caller, now, instrument),
        )
        self._reload()
        self._changed()
        entry = self.get(instrument)
        assert entry is not None
        return entry

    def remove(self, instrument: str, *, caller: str) -> WatchlistEntry:
        """Take an instrument off the list (the row stays, as removed)."""
        e = self.get(instrument)
        if e is None or e.status != "active":
            raise ControlError(f"'{instrument}' is not on the active watchlist")
        self.journal.query(
            "UPDATE watchlist SET status = 'removed', caller = ?, updated_ts_ns = ? "
            "WHERE instrument = ?",
            (caller, self.clock.now_ns(), instrument),
        )
        self._reload()
        self._changed()
        entry = self.get(instrument)
        assert entry is not None
        return entry

    def sweep(self) -> list[Event]:
        """Mark what expired and what is about to; the events to publish, in time order."""
        now = self.clock.now_ns()
        warn = int(self.settings.warn_before_hours * NS_PER_HOUR)
        events: list[Event] = []
        for e in self.entries():
            if now >= e.expires_ts_ns:
                if not e.warned:
                    events.append(
                        WatchlistExpiring(
                            ts_ns=now,
                            instrument=e.instrument,
                            expires_ts_ns=e.expires_ts_ns,
                            reason="watchlist entry expired before its warning was sent",
                        )
                    )
                self.journal.query(
                    "UPDATE watchlist SET status = 'expired', warned = true, updated_ts_ns = ? "
                    "WHERE instrument = ?",
                    (now, e.instrument),
                )
                events.append(WatchlistExpired(ts_ns=now, instrument=e.instrument))
            elif now >= e.expires_ts_ns - warn and not e.warned:
                self.journal.query(
                    "UPDATE watchlist SET warned = true WHERE instrument = ?", (e.instrument,)
                )
                events.append(
                    WatchlistExpiring(
                        ts_ns=now,
                        instrument=e.instrument,
                        expires_ts_ns=e.expires_ts_ns,
                        reason=f"watchlist entry ends within {self.settings.warn_before_hours:g} h",
                    )
                )
        if events:
            self._reload()
            self._changed()
        return events


def open_watchlist(engine: Engine) -> Watchlist:
    """The watchlist of a running engine (its journal must be open)."""
    assert engine.journal is not None, "the watchlist opens with the run's journal"
    known = {key: inst.kind.value for key, inst in engine.instruments.items()}
    drives = engine.config.watchlist.drives_instruments
    return Watchlist(
        engine.journal, engine.clock, engine.config.watchlist, known=known if drives else None
    )


class Subscriptions:
    """The market data an engine streams when the watchlist drives the instrument set: the
    instruments on the active watchlist, plus any still holding a position (its exits need
    data), on every data venue declaring ``subscribe``. Venues without it stream every
    configured instrument (the entry guard still refuses the others' entries)."""

    def __init__(self, engine: Engine, watchlist: Watchlist) -> None:
        self.engine = engine
        self.watchlist = watchlist
        #: Instrument keys subscribed now, per data venue declaring ``subscribe``.
        self.venues = {
            st.data_venue: engine.venues[st.data_venue]
            for st in engine.state.values()
            if "subscribe" in engine.venues[st.data_venue].capabilities
        }
        #: The changes made, in order: ``(engine time, "subscribe"|"unsubscribe", key)``.
        self.log: list[tuple[int, str, str]] = []

    def wanted(self) -> set[str]:
        """The instruments whose data is needed now."""
        now = self.engine.clock.now_ns()
        out = {k for k in self.engine.state if self.watchlist.is_active(k, now)}
        out |= {p.instrument for p in self.engine.portfolio.positions() if not p.is_flat}
        return out

    def sync(self) -> None:
        """Subscribe what is wanted and not streamed, unsubscribe the reverse."""
        wanted = self.wanted()
        now = self.engine.clock.now_ns()
        for key, venue in self.venues.items():
            mine = [st.instrument for st in self.engine.state.values() if st.data_venue == key]
            on = [i for i in mine if i.key in wanted and i.key in self.engine.unsubscribed]
            off = [i for i in mine if i.key not in wanted and i.key not in self.engine.unsubscribed]
            if off:
                venue.unsubscribe(off)
                self.engine.unsubscribed.update(i.key for i in off)
                self.log += [(now, "unsubscribe", i.key) for i in off]
            if on:
                venue.subscribe(on)
                self.engine.unsubscribed.difference_update(i.key for i in on)
                self.log += [(now, "subscribe", i.key) for i in on]


@asynccontextmanager
async def watchlist_service(engine: Engine) -> AsyncIterator[Watchlist]:
    """Open the watchlist for the run, guard entries when it drives the instrument set, and
    sweep it for expiry every ``sweep_interval_s`` seconds."""
    wl = open_watchlist(engine)
    from tradewind.trading.operator import Operator

    Operator.of(engine).watchlist = wl  # its entry guard consults the watchlist from now on
    drives = engine.config.watchlist.drives_instruments
    subscriptions = Subscriptions(engine, wl) if drives else None
    if subscriptions is not None:
        wl.subscriptions = subscriptions
        wl.listeners.append(subscriptions.sync)
        subscriptions.sync()

    def on_candles(_closed: object) -> None:
        # Sweep on engine time at decision points (deterministic in a backtest); the events
        # go out with the engine's own after the boundary.
        if wl.due(engine.clock.now_ns()):
            for event in wl.sweep():
                engine.orders.on_event(event)
        elif subscriptions is not None:
            subscriptions.sync()  # a position closed since: its data may go

    engine.candle_sinks.append(on_candles)

    async def sweeper() -> None:  # for a live feed that goes quiet
        while True:
            if wl.due(engine.clock.now_ns()):
                for event in wl.sweep():
                    await engine.bus.publish(event)
            await anyio.sleep(engine.config.watchlist.sweep_interval_s)

    async with anyio.create_task_group() as tg:
        tg.start_soon(sweeper)
        try:
            yield wl
        finally:
            tg.cancel_scope.cancel()
