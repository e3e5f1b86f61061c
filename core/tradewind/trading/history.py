"""What a run keeps of its fills, closed trades and order tags, and where the rest is read from.

A backtest keeps all of it in memory (:class:`TradeHistory` with ``keep=None``): it writes its
journal in one batch at the end, and its report reads the lists as they are. A paper or live
run writes every fill, position and order to a durable journal as it books it, so keeping
them in memory too only grows the process for as long as the session runs (issue 19). Its
history (:meth:`TradeHistory.bounded`) keeps what the readers during the run need:

- the last ``keep`` fills and closed trades (the control commands' last trades, the API
  snapshot's new fills) — an older one is dropped from memory as each new one comes, one at a
  time (dropping a thousand at once put their deallocation into one decision's time);
- running aggregates: fills and trades counted, each instrument's realised P&L of the closed
  trades (the ``profit`` command);
- the state at the run's start (:meth:`TradeHistory.begin`): the journal's last row then, each
  instrument's position (flat or not, realised P&L) and the order tags the order manager
  held.

Whatever needs all of the run's history (the run's summary and :class:`RunResult`, a day of
trades older than the tail) reads it back from the journal: the fills booked after the start
mark, the closed trades rebuilt from the journal's position rows exactly as
:class:`~tradewind.trading.fill_booking.FillBooking` made them, the tags of the orders
submitted after the mark.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Mapping, MutableSequence
from decimal import Decimal
from itertools import islice
from typing import TYPE_CHECKING, TypeVar

from tradewind.model import Fill

if TYPE_CHECKING:
    from tradewind.journal.store import Journal
    from tradewind.model import Position

log = logging.getLogger("tradewind.trading.history")

#: A closed trade: ``(ts_ns, instrument, realised P&L)``.
Trade = tuple[int, str, Decimal]

#: The fills and closed trades a paper or live run keeps in memory.
KEEP_RECENT = 1_000

_ZERO = Decimal(0)
T = TypeVar("T")


class TradeHistory:
    """A run's fills and closed trades in booking order: all of them (``keep`` None, lists), or
    the last ``keep`` (deques) with running aggregates, the rest read back from ``journal``."""

    def __init__(self, keep: int | None = None, journal: Journal | None = None) -> None:
        if keep is not None and (keep < 1 or journal is None):
            raise ValueError("a bounded history needs keep >= 1 and a journal to read back")
        self.keep = keep
        self.journal = journal
        #: The fills kept, oldest first (every fill when ``keep`` is None).
        self.fills: MutableSequence[Fill] = [] if keep is None else deque(maxlen=keep)
        #: The closed trades kept, oldest first (every one when ``keep`` is None).
        self.trades: MutableSequence[Trade] = [] if keep is None else deque(maxlen=keep)
        #: Fills and closed trades booked, and how many of each were dropped from memory.
        self.n_fills = 0
        self.n_trades = 0
        self.fills_dropped = 0
        self.trades_dropped = 0
        #: Order tags the order manager released with their finished orders.
        self.tags_dropped = 0
        #: Each instrument's realised P&L over the closed trades, in booking order.
        self.realized: dict[str, Decimal] = {}
        #: The journal's last row before the run booked anything (:meth:`begin`).
        self._mark: int | None = None
        self._start_positions: dict[str, tuple[bool, Decimal]] = {}
        self._start_open: dict[str, Decimal] = {}
        self._start_tags: dict[str, str] = {}

    @classmethod
    def bounded(cls, journal: Journal, keep: int | None = None) -> TradeHistory:
        """The history of a run whose journal is durable (paper, live): the last ``keep``
        (default :data:`KEEP_RECENT`) fills and trades in memory."""
        return cls(KEEP_RECENT if keep is None else keep, journal)

    @property
    def complete(self) -> bool:
        """True while memory holds every fill and trade (nothing dropped yet)."""
        return not (self.fills_dropped or self.trades_dropped or self.tags_dropped)

    def begin(
        self,
        positions: Iterable[Position],
        realized_at_open: Mapping[str, Decimal],
        tags: Mapping[str, str],
    ) -> None:
        """Mark the run's start: what the journal holds now was booked before the run (a
        resumed session's), and the order manager's state then — each position, each
        instrument's realised P&L at its position's opening, the orders' tags."""
        if self.keep is None or self.journal is None:
            return
        self._mark = self.journal.last_seq
        self._start_positions = {p.instrument: (p.is_flat, p.realized_pnl) for p in positions}
        self._start_open = dict(realized_at_open)
        self._start_tags = dict(tags)

    # -- booking (the fill path) ----------------------------------------------------------
    def add_fill(self, fill: Fill) -> None:
        """A fill booked."""
        fills = self.fills
        if len(fills) == self.keep:
            self.fills_dropped += 1  # the deque drops its oldest as this one comes
        fills.append(fill)
        self.n_fills += 1

    def add_trade(self, ts_ns: int, instrument: str, pnl: Decimal) -> None:
        """A position closed with ``pnl`` realised since it opened."""
        trades = self.trades
        if len(trades) == self.keep:
            self.trades_dropped += 1
        trades.append((ts_ns, instrument, pnl))
        self.n_trades += 1
        self.realized[instrument] = self.realized.get(instrument, _ZERO) + pnl

    def keep_everything(self) -> None:
        """Stop dropping (the journal failed: what is not in it must stay in memory)."""
        self.keep = None
        self.fills = list(self.fills)
        self.trades = list(self.trades)

    # -- reading --------------------------------------------------------------------------
    def fills_since(self, n: int) -> list[Fill]:
        """The fills booked after the first ``n``, in order."""
        if n >= self.fills_dropped:
            return list(islice(self.fills, n - self.fills_dropped, None))
        return self.all_fills()[n:]

    def recent_trades(self, limit: int) -> list[Trade]:
        """The last ``limit`` closed trades, oldest first (``trades[-limit:]`` of every
        closed trade, whatever ``limit``)."""
        if 0 < limit <= len(self.trades):
            return list(islice(self.trades, len(self.trades) - limit, None))
        return self.all_trades()[-limit:]

    def fills_between(self, start_ns: int, end_ns: int) -> list[Fill]:
        """The fills with ``start_ns <= ts_ns < end_ns``, in booking order."""
        if self._covers(self.fills, self.fills_dropped, start_ns):
            return [f for f in self.fills if start_ns <= f.ts_ns < end_ns]
        try:
            assert self.journal is not None and self._mark is not None
            return self.journal.fills(after_seq=self._mark, between_ns=(start_ns, end_ns))
        except Exception as exc:
            log.error("the run's fills not read back from the journal: %s", exc)
            return [f for f in self.fills if start_ns <= f.ts_ns < end_ns]

    def trades_between(self, start_ns: int, end_ns: int) -> list[Trade]:
        """The closed trades with ``start_ns <= ts_ns < end_ns``, in booking order."""
        trades = self.trades if self._covers(self.trades, self.trades_dropped, start_ns) else None
        if trades is None:
            trades = self.all_trades()
        return [t for t in trades if start_ns <= t[0] < end_ns]

    @staticmethod
    def _covers(
        kept: MutableSequence[Fill] | MutableSequence[Trade], dropped: int, start_ns: int
    ) -> bool:
        """The kept tail holds everything from ``start_ns`` on: nothing was dropped, or the
        first kept item is before ``start_ns`` (items are booked in time order; a venue's
        late fill with an older time is why this is "before", not "at")."""
        if not dropped:
            return True
        if not kept:
            return False
        first = kept[0]
        ts = first.ts_ns if isinstance(first, Fill) else first[0]
        return ts < start_ns

    def all_fills(self) -> list[Fill]:
        """Every fill the run booked, in order (read back from the journal once some were
        dropped from memory)."""
        if not self.fills_dropped:
            return _as_list(self.fills)
        try:
            return self._journal_fills()
        except Exception as exc:  # a journal that cannot be read: what memory holds, said
            log.error("the run's fills not read back from the journal: %s", exc)
            return list(self.fills)

    def all_trades(self) -> list[Trade]:
        """Every closed trade of the run, in order (rebuilt from the journal's position rows
        once some were dropped from memory)."""
        if not self.trades_dropped:
            return _as_list(self.trades)
        try:
            return self._journal_trades()
        except Exception as exc:
            log.error("the run's closed trades not read back from the journal: %s", exc)
            return list(self.trades)

    def all_tags(self, tags: Mapping[str, str]) -> dict[str, str]:
        """Every order's tag, by client order id: ``tags`` (what the order manager holds) when
        nothing was dropped, else the tags held at the run's start and those of every order
        submitted since, from the journal."""
        if self.complete or self.journal is None or self._mark is None:
            return dict(tags)
        out = dict(self._start_tags)
        try:
            out.update(self.journal.submitted_tags(self._mark))
        except Exception as exc:
            log.error("the run's order tags not read back from the journal: %s", exc)
        out.update(tags)
        return out

    def _journal_fills(self) -> list[Fill]:
        assert self.journal is not None and self._mark is not None
        out = self.journal.fills(after_seq=self._mark)
        _check_count("fills", len(out), self.n_fills)
        return out

    def _journal_trades(self) -> list[Trade]:
        """The closed trades as :meth:`FillBooking.on_fill` made them, from the position
        after each fill: a fill that closes a position opened since (or held at) the start
        is a trade of the realised P&L since the position opened."""
        assert self.journal is not None and self._mark is not None
        state = dict(self._start_positions)
        opened_at = dict(self._start_open)
        out: list[Trade] = []
        for ts, reason, inst, qty, realized in self.journal.position_steps(self._mark):
            was_flat, was_realized = state.get(inst, (True, _ZERO))
            flat = qty == 0
            if reason == "fill":
                if was_flat:
                    opened_at[inst] = was_realized
                elif flat:
                    out.append((ts, inst, realized - opened_at.get(inst, _ZERO)))
            state[inst] = (flat, realized)
        _check_count("closed trades", len(out), self.n_trades)
        return out


def _as_list(items: MutableSequence[T]) -> list[T]:
    """``items`` itself when a list (a backtest's result is the very list), else a list of
    them."""
    return items if isinstance(items, list) else list(items)


def _check_count(what: str, read: int, booked: int) -> None:
    """Say so when the journal gives another number of ``what`` than the run booked (a
    journal that failed to take some, or a venue's fills booked around the order manager)."""
    if read != booked:
        log.error("the journal gives %d of the run's %d %s read back", read, booked, what)
