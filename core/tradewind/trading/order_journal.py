"""Journaling of the order manager: every order state and order event is written through here,
and a journal that cannot write never raises into the trading path (it stops new orders)."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from decimal import Decimal

from tradewind.journal.store import Journal, OrderRecord
from tradewind.model import Event, Order, OrderReport, OrderStatus, SystemError
from tradewind.trading.history import TradeHistory

# The order manager's logger: its records keep the name they had before the split.
log = logging.getLogger("tradewind.trading.orders")


#: Finished orders (terminal state) the order manager keeps in memory, newest last, when it
#: has a journal to read older ones back from: a late fill or report, a repeated fill, an
#: order's tag for the live snapshot all concern recent orders. An older one is read back
#: from the journal when something asks for it (:meth:`OrderJournaling._known`).
KEEP_FINISHED = 1_000


class OrderJournaling:
    """Writes the order manager's orders and order events to the journal (when attached), and
    keeps only the recent finished orders in memory."""

    journal: Journal | None
    journal_error: str | None
    pending: list[Event]
    records: dict[str, OrderRecord]
    orders: dict[str, Order]
    #: Each order's tag by client order id: every order's, or with a bounded history those
    #: of the orders in :attr:`records` (the run's result reads the others from the journal).
    order_tags: dict[str, str]
    history: TradeHistory
    _ts: int
    _fill_keys: set[tuple[str, str]]
    _booked: dict[str, Decimal]
    _unresolved: dict[str, str]
    #: Fill keys of the orders in :attr:`records`, to forget with them.
    _keys_of: dict[str, list[tuple[str, str]]]
    #: Finished orders still in memory, oldest first.
    _finished: deque[str]
    #: Orders released from memory, and the highest id sequence among them.
    released: int
    _released_seq: int

    def _id_seq(self, client_order_id: str) -> int | None:
        raise NotImplementedError

    def _finish_kept(self, cid: str) -> None:
        """``cid`` reached a terminal state (and is journaled): keep it among the recent
        finished orders, and release the oldest beyond :data:`KEEP_FINISHED` — its record,
        order, booked quantity and fill keys — when the journal holds them."""
        if self.journal is None:
            return  # nothing to read them back from: keep everything
        finished = self._finished
        finished.append(cid)
        while len(finished) > KEEP_FINISHED:
            old = finished.popleft()
            rec = self.records.get(old)
            if rec is None or not rec.status.is_terminal or old in self._unresolved:
                continue
            del self.records[old]
            self.orders.pop(old, None)
            if self.history.keep is not None and self.order_tags.pop(old, None) is not None:
                self.history.tags_dropped += 1
            self._booked.pop(old, None)
            for key in self._keys_of.pop(old, ()):
                self._fill_keys.discard(key)
            self.released += 1
            seq = rec.id_seq
            self._released_seq = max(self._released_seq, -1 if seq is None else seq)

    def _known(self, cid: str, seq: int | bool | None = False) -> OrderRecord | None:
        """The record of order ``cid``: in memory, or read back from the journal when it may
        have been released (an id this host made up to the highest released, or one it did
        not make), with its booked quantity and fill keys; None for an order never known.
        ``seq``: ``cid``'s :meth:`_id_seq` when the caller has it already."""
        rec = self.records.get(cid)
        if rec is not None or not self.released or self.journal is None:
            return rec
        if seq is False:
            seq = self._id_seq(cid)
        if seq is not None and seq > self._released_seq:
            return None  # newer than every released order: never released
        journal = self.journal
        try:
            rec = journal.order(cid)
            if rec is None:
                return None
            rows = journal.query(
                "SELECT fill_key, quantity FROM fills WHERE session_id = ? AND client_order_id = ?",
                [journal.session_id, cid],
            )
        except Exception as exc:  # a journal that cannot be read: as if unknown, said loudly
            log.error("order %s not read back from the journal: %s", cid, exc)
            return None
        self.records[cid] = rec
        if rec.order is not None:
            self.orders[cid] = rec.order
        keys = [(cid, str(k)) for k, _ in rows]
        self._fill_keys.update(keys)
        self._keys_of[cid] = keys
        self._booked[cid] = sum((Decimal(q) for _, q in rows), Decimal(0))
        if rec.status.is_terminal:
            self._finish_kept(cid)
        return rec

    def attach_journal(self, journal: Journal) -> None:
        """Journal orders before they are sent and fills before they are booked."""
        self.journal = journal
        journal.write_ahead = True

    # -- journal writes (never raise into the trading path) -------------------------------
    def _journal(self, what: str, fn: Callable[[Journal], None]) -> None:
        if self.journal is None:
            return
        try:
            fn(self.journal)
        except Exception as exc:
            self._journal_failed(what, exc)

    def _journal_failed(self, what: str, exc: Exception) -> None:
        """A journal write failed: a journal that cannot write must stop new orders (their
        fate could not be known after a crash). Fills are still booked (they happened at the
        venue)."""
        self.journal_error = f"journal write failed ({what}): {type(exc).__name__}: {exc}"
        # What the journal did not take must stay in memory for the run's result.
        self.history.keep_everything()
        log.error("%s", self.journal_error)
        self.pending.append(
            SystemError(ts_ns=self._ts, source="orders:journal", error=self.journal_error)
        )

    def _store(
        self, rec: OrderRecord, kind: str, from_status: OrderStatus | None, detail: str = ""
    ) -> None:
        self.records[rec.client_order_id] = rec
        journal = self.journal
        if journal is not None:  # :meth:`_journal`, without a closure and a label per order
            try:
                journal.record_order(
                    rec, ts_ns=rec.updated_ts_ns, kind=kind, from_status=from_status, detail=detail
                )
            except Exception as exc:
                self._journal_failed(f"order {rec.client_order_id}", exc)
        if rec.status.is_terminal and (from_status is None or not from_status.is_terminal):
            self._finish_kept(rec.client_order_id)

    def _system_error(self, error: str, client_order_id: str, report: OrderReport | None) -> None:
        log.error("%s", error)
        self.pending.append(SystemError(ts_ns=self._ts, source="orders", error=error))
        self._journal(
            f"order event {client_order_id}",
            lambda j: j.record_order_event(
                client_order_id,
                ts_ns=self._ts,
                kind="illegal" if report is None or client_order_id in self.records else "unknown",
                from_status=(
                    self.records[client_order_id].status
                    if client_order_id in self.records
                    else None
                ),
                to_status=None if report is None else report.status,
                filled=None if report is None else report.filled_quantity,
                detail=error,
            ),
        )
