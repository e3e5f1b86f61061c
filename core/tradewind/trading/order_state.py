"""The order state machine: the legal moves (:data:`TRANSITIONS`) and how a venue report moves an
order's state, or is refused (an illegal move or an unknown order becomes a
:class:`~tradewind.model.SystemError` event and an ``order_events`` row, never an exception)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from tradewind.journal import store as _store
from tradewind.journal.store import OrderRecord
from tradewind.model import OrderReport, OrderStatus, OrderUpdated
from tradewind.model.frozen import builder
from tradewind.trading.order_journal import OrderJournaling
from tradewind.trading.portfolio import Portfolio

_S = OrderStatus

#: Legal moves of the order state machine. A repeat of the current state is never a move.
TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = MappingProxyType(
    {
        _S.NEW: frozenset(
            {_S.ACCEPTED, _S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELLED, _S.REJECTED, _S.EXPIRED}
        ),
        # Some venues acknowledge first and run risk checks after: accepted → rejected.
        _S.ACCEPTED: frozenset(
            {_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELLED, _S.REJECTED, _S.EXPIRED}
        ),
        _S.PARTIALLY_FILLED: frozenset({_S.FILLED, _S.CANCELLED, _S.EXPIRED}),
        _S.FILLED: frozenset(),
        _S.CANCELLED: frozenset(),
        _S.REJECTED: frozenset(),
        _S.EXPIRED: frozenset(),
    }
)


#: How far along its life a state is: a report of an earlier stage than the order's (with no
#: more filled) is a late one, delivered after the report that moved the order on.
_STAGE: Mapping[OrderStatus, int] = MappingProxyType(
    {
        _S.NEW: 0,
        _S.ACCEPTED: 1,
        _S.PARTIALLY_FILLED: 2,
        _S.FILLED: 3,
        _S.CANCELLED: 3,
        _S.REJECTED: 3,
        _S.EXPIRED: 3,
    }
)


#: :data:`_STAGE` and :data:`TRANSITIONS` by the states' values: a ``str`` hashes in C, an
#: enum member's hash is a Python call (two look-ups per venue report).
_STAGE_OF: Mapping[str, int] = MappingProxyType({s._value_: n for s, n in _STAGE.items()})
_LEGAL: frozenset[tuple[str, str]] = frozenset(
    (src._value_, dst._value_) for src, dsts in TRANSITIONS.items() for dst in dsts
)


#: ``OrderUpdated(ts_ns=..., report=...)`` through its slots (:mod:`tradewind.model.frozen`).
_order_updated = builder(OrderUpdated, ("ts_ns", "report"))


def is_legal(src: OrderStatus, dst: OrderStatus) -> bool:
    """True when the state machine allows ``src`` → ``dst``."""
    return dst in TRANSITIONS[src]


class OrderStateMachine(OrderJournaling):
    """Moves orders through :data:`TRANSITIONS` and tracks the orders whose outcome is unknown."""

    portfolio: Portfolio
    _clock: Callable[[], float]
    _unresolved: dict[str, str]
    _doubt_since: dict[str, float]
    _not_found_since: dict[str, float]
    _alerted: set[str]
    #: The last report :meth:`_apply` took as a move or a repeat, and the record it left in
    #: :attr:`records`: while that very record is the order's, the same report again is a
    #: repeat (its state, quantity and venue id are the record's, its time was taken): the
    #: simulated venue's acknowledgement, reported and then returned by ``submit_order``.
    _applied: tuple[OrderReport | None, OrderRecord | None] = (None, None)

    def _finish(self, rec: OrderRecord, status: OrderStatus, reason: str, kind: str) -> None:
        new = rec.moved(
            status=status,
            filled_quantity=rec.filled_quantity,
            reason=reason,
            updated_ts_ns=self._ts,
        )
        self._store(new, kind, rec.status, reason)
        self._settled(rec.client_order_id)
        if status.is_terminal:
            self.portfolio.order_closed(rec.client_order_id)
        self.pending.append(_order_updated(self._ts, new.report()))

    def _settled(self, cid: str) -> None:
        if not (self._unresolved or self._doubt_since or self._not_found_since or self._alerted):
            return  # no order in doubt (the usual case): nothing to forget
        self._unresolved.pop(cid, None)
        self._doubt_since.pop(cid, None)
        self._not_found_since.pop(cid, None)
        self._alerted.discard(cid)

    def _mark_in_doubt(self, cid: str, key: str) -> None:
        self._unresolved[cid] = key
        self._doubt_since.setdefault(cid, self._clock())

    # -- the state machine ----------------------------------------------------------------
    def _apply(self, report: OrderReport, kind: str = "report") -> None:
        """Move an order's state by a venue report (or refuse the move)."""
        self._ts = max(self._ts, report.ts_ns)
        cid = report.client_order_id
        rec = self.records.get(cid)
        if rec is None:
            rec = self._known(cid)  # a finished order released from memory: read back
        if rec is None:
            self._system_error(
                f"report for unknown order {cid} ({report.status.value}) from the venue; ignored",
                cid,
                report,
            )
            return
        cur, new = rec.status, report.status
        filled = max(rec.filled_quantity, report.filled_quantity)
        vid = report.venue_order_id or rec.venue_order_id
        if new is cur:
            if filled == rec.filled_quantity and vid == rec.venue_order_id:
                self._applied = (report, rec)
                return  # a repeat
            changed = rec.moved(
                status=cur, filled_quantity=filled, venue_order_id=vid, updated_ts_ns=report.ts_ns
            )
            self._store(changed, kind, cur)
            self._applied = (report, changed)
            self.pending.append(_order_updated(report.ts_ns, report))
            return
        cur_v, new_v = cur._value_, new._value_
        if _STAGE_OF[new_v] < _STAGE_OF[cur_v] and report.filled_quantity <= rec.filled_quantity:
            # A report of an earlier stage arrived after the one that moved the order on (an
            # acknowledgement after the fill, or after the cancel or the IOC's expiry that a
            # faster channel delivered first): stale, not a move and not an error.
            self._journal(
                f"order event {cid}",
                lambda j: j.record_order_event(
                    cid, ts_ns=report.ts_ns, kind="stale", from_status=cur, to_status=new
                ),
            )
            return
        if (cur_v, new_v) not in _LEGAL:  # :func:`is_legal`
            self._system_error(
                f"illegal order transition {cur.value} -> {new.value} for {cid} reported by "
                f"the venue; state kept at {cur.value}",
                cid,
                report,
            )
            return
        # ``rec.moved(status=new, ...)`` without its call and keywords: the same builder
        # (looked up in its module, where tests can replace it).
        changed = _store.new_record(
            rec.client_order_id,
            rec.instrument,
            rec.venue,
            rec.order,
            new,
            filled,
            rec.venue_order_id if vid is None else vid,
            report.reason or rec.reason,
            rec.origin,
            report.ts_ns,
            rec.id_seq,
            rec.run_id,
        )
        self._store(changed, kind, cur)
        self._applied = (report, changed)
        if self._unresolved or self._doubt_since or self._not_found_since or self._alerted:
            self._settled(cid)  # (nothing to forget while no order is in doubt)
        if new.is_terminal:
            self.portfolio.order_closed(cid)
        self.pending.append(_order_updated(report.ts_ns, report))
