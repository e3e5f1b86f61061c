"""Journaling of the order manager: every order state and order event is written through here,
and a journal that cannot write never raises into the trading path (it stops new orders)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from tradewind.journal.store import Journal, OrderRecord
from tradewind.model import Event, OrderReport, OrderStatus, SystemError

# The order manager's logger: its records keep the name they had before the split.
log = logging.getLogger("tradewind.trading.orders")


class OrderJournaling:
    """Writes the order manager's orders and order events to the journal (when attached)."""

    journal: Journal | None
    journal_error: str | None
    pending: list[Event]
    records: dict[str, OrderRecord]
    _ts: int

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
            # A journal that cannot write must stop new orders: their fate could not be known
            # after a crash. Fills are still booked (they happened at the venue).
            self.journal_error = f"journal write failed ({what}): {type(exc).__name__}: {exc}"
            log.error("%s", self.journal_error)
            self.pending.append(
                SystemError(ts_ns=self._ts, source="orders:journal", error=self.journal_error)
            )

    def _store(
        self, rec: OrderRecord, kind: str, from_status: OrderStatus | None, detail: str = ""
    ) -> None:
        self.records[rec.client_order_id] = rec
        self._journal(
            f"order {rec.client_order_id}",
            lambda j: j.record_order(
                rec, ts_ns=rec.updated_ts_ns, kind=kind, from_status=from_status, detail=detail
            ),
        )

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
