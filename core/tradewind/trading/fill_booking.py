"""Fill booking: each fill booked once per (client order id, trade id), journaled before the
portfolio sees it, and the order it belongs to moved to partially filled or filled by it."""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableSequence
from decimal import Decimal

from tradewind.journal import store as _store
from tradewind.journal.store import OrderRecord, fill_key
from tradewind.model import (
    Fill,
    FillEvent,
    OrderUpdated,
    PositionChanged,
    PositionClosed,
    SystemError,
)
from tradewind.model.frozen import builder
from tradewind.trading.history import Trade, TradeHistory
from tradewind.trading.order_state import _S, OrderStateMachine

# The order manager's logger: its records keep the name they had before the split.
log = logging.getLogger("tradewind.trading.orders")

#: What an order has booked before its first fill (one object: Decimals are immutable).
_NOTHING = Decimal(0)
#: The states a fill moves an order to, looked up once (an enum's attribute look-up is a
#: Python call).
_FILLED = _S.FILLED
_PARTIALLY_FILLED = _S.PARTIALLY_FILLED
#: A fill's events, built through their slots (:func:`~tradewind.model.frozen.builder`).
_fill_event = builder(FillEvent, ("ts_ns", "fill", "realized_pnl", "pnl_currency"))
_order_updated = builder(OrderUpdated, ("ts_ns", "report"))
_position_changed = builder(PositionChanged, ("ts_ns", "position"))


class FillBooking(OrderStateMachine):
    """Books venue fills into the journal and the portfolio, each exactly once."""

    #: The fills and closed trades booked (:mod:`tradewind.trading.history`: all of them, or
    #: the recent ones when the journal holds the rest).
    history: TradeHistory
    duplicate_fills: int
    #: Each instrument's P&L currency (the engine's), carried by the fill events.
    pnl_currencies: Mapping[str, str]
    exit_reasons: dict[str, str]
    _realized_at_open: dict[str, Decimal]
    _fill_keys: set[tuple[str, str]]
    _booked: dict[str, Decimal]

    @property
    def fills(self) -> MutableSequence[Fill]:
        """The fills kept in memory, in booking order (:attr:`TradeHistory.fills`: every
        fill of a backtest, the recent ones of a paper or live run)."""
        return self.history.fills

    @property
    def closed_trades(self) -> MutableSequence[Trade]:
        """The closed trades kept in memory, ``(ts_ns, instrument, realised P&L)``, in
        order (:attr:`TradeHistory.trades`)."""
        return self.history.trades

    def unbooked(self) -> dict[str, list[str]]:
        """Per venue, its orders whose reports say they filled more than their fills booked
        so far (a "filled" report that came before its fills): positions about to move."""
        out: dict[str, list[str]] = {}
        for cid, rec in self.records.items():
            if rec.filled_quantity > self._booked.get(cid, Decimal(0)):
                out.setdefault(rec.venue, []).append(cid)
        return out

    def on_fill(self, fill: Fill) -> None:
        """Book a fill: once per (client order id, trade id), journaled before the portfolio."""
        self._ts = max(self._ts, fill.ts_ns)
        cid = fill.client_order_id
        key = (cid, fill.trade_id or fill_key(fill))  # (the trade id when it has one)
        rec = self.records.get(cid)
        if rec is None:
            rec = self._known(cid)  # a finished order released from memory: read back
        if key in self._fill_keys:
            self.duplicate_fills += 1
            log.info("duplicate fill %s of order %s ignored", key[1], cid)
            return
        self._fill_keys.add(key)
        if rec is not None:
            keys = self._keys_of.get(cid)
            if keys is None:
                self._keys_of[cid] = [key]
            else:
                keys.append(key)
        # A fee in a third currency gets its price at this moment, journaled with the fill:
        # what it cost is taken out of its trade's P&L at that price, never at a later one.
        if fill.fee_asset == "other":  # :meth:`Portfolio.price_fee` returns any other as is
            fill = self.portfolio.price_fee(fill)
        before = self.portfolio.position(fill.instrument)
        after = before.apply(fill)
        changed: OrderRecord | None = None
        problem = ""
        kind = "fill"
        if rec is not None:
            booked = self._booked.get(cid, _NOTHING) + fill.quantity
            self._booked[cid] = booked
            status = rec.status
            qty = rec.order.quantity if rec.order is not None else None
            if status.is_terminal:
                kind = "late_fill"
                if qty is not None and booked > qty:
                    problem = f"overfill of order {cid}: {booked} booked for {qty} ordered"
            else:
                status = _FILLED if qty is not None and booked >= qty else _PARTIALLY_FILLED
            # ``rec.moved(status=..., filled_quantity=..., updated_ts_ns=...)`` without its
            # call: the same builder (looked up in its module, where tests can replace it).
            changed = _store.new_record(
                rec.client_order_id,
                rec.instrument,
                rec.venue,
                rec.order,
                status,
                max(rec.filled_quantity, booked),
                rec.venue_order_id,
                rec.reason,
                rec.origin,
                fill.ts_ns,
                rec.id_seq,
                rec.run_id,
            )
        else:
            problem = f"fill {key[1]} for unknown order {cid} booked (the venue's position moved)"
        journal = self.journal
        if journal is not None:  # :meth:`_journal`, without a closure and a label per fill
            try:
                journal.record_fill(
                    fill, after, changed, from_status=None if rec is None else rec.status, kind=kind
                )
            except Exception as exc:
                self._journal_failed(f"fill {key[1]} of {cid}", exc)
        # Only now, with the fill on disk, does the portfolio see it. (``is_flat`` read as
        # ``quantity == 0``, what the property returns, without its call, twice a fill.)
        was_flat = before.quantity == 0
        if was_flat:
            self._realized_at_open[fill.instrument] = before.realized_pnl
        after = self.portfolio.apply_fill(fill, after)
        self.history.add_fill(fill)
        self.pending.append(
            _fill_event(
                fill.ts_ns,
                fill,
                after.realized_pnl - before.realized_pnl,
                self.pnl_currencies.get(fill.instrument, ""),
            )
        )
        if changed is not None and rec is not None:
            self.records[cid] = changed
            if changed.status is not rec.status:
                if self._unresolved or self._doubt_since or self._not_found_since or self._alerted:
                    self._settled(cid)  # (nothing to forget while no order is in doubt)
                if changed.status.is_terminal:
                    self.portfolio.order_closed(cid)
                    if not rec.status.is_terminal:
                        self._finish_kept(cid)
                report = _store._new_report(  # ``changed.report()``, without its call
                    changed.client_order_id,
                    changed.instrument,
                    changed.status,
                    changed.updated_ts_ns,
                    changed.filled_quantity,
                    changed.venue_order_id,
                    changed.reason,
                )
                self.pending.append(_order_updated(fill.ts_ns, report))
        if problem:
            log.error("%s", problem)
            self.pending.append(SystemError(ts_ns=fill.ts_ns, source="orders", error=problem))
        self.pending.append(_position_changed(fill.ts_ns, after))
        if after.quantity == 0 and not was_flat:
            start = self._realized_at_open.get(fill.instrument, Decimal(0))
            self.history.add_trade(fill.ts_ns, fill.instrument, after.realized_pnl - start)
            reason = self.exit_reasons.pop(fill.instrument, "")
            self.pending.append(
                PositionClosed(
                    ts_ns=fill.ts_ns,
                    position=after,
                    reason=reason,
                    pnl_currency=self.pnl_currencies.get(fill.instrument, ""),
                )
            )
